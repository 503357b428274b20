package testagent

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
)

// The attacks an agent fed hostile cluster text might try on the runner
// that started it. An "attacker-" agent tries each and writes one line per
// attempt to its report (and stdout), which Findings parses:
//
//	environ: denied|read <secret found: yes|no>    /proc/<ppid>/environ
//	file <path>: denied|read                       each of ATTACK_FILES (colon-separated)
//	kubeconfig: read|denied                        its own $KUBECONFIG
//	signal: denied|allowed                         kill(ppid, 0), the same permission check as SIGTERM
//	fork: <n> <error>                              /bin/sleep children until one fails (ATTACK_FORKS at most)
//	uid: <uid>
//
// ATTACK_SECRET is a value the test put in the runner's environment.

// Attack runs every attack and returns the report.
func Attack() string {
	var b strings.Builder
	ppid := os.Getppid()
	fmt.Fprintf(&b, "uid: %d\n", os.Getuid())
	env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", ppid))
	if err != nil {
		fmt.Fprintf(&b, "environ: denied %v\n", err)
	} else {
		secret := os.Getenv("ATTACK_SECRET")
		found := secret != "" && bytes.Contains(env, []byte(secret))
		fmt.Fprintf(&b, "environ: read %s\n", map[bool]string{true: "yes", false: "no"}[found])
	}
	for _, p := range strings.Split(os.Getenv("ATTACK_FILES"), ":") {
		if p == "" {
			continue
		}
		if _, err := os.ReadFile(p); err != nil {
			fmt.Fprintf(&b, "file %s: denied\n", p)
		} else {
			fmt.Fprintf(&b, "file %s: read\n", p)
		}
	}
	if _, err := os.ReadFile(os.Getenv("KUBECONFIG")); err != nil {
		fmt.Fprintf(&b, "kubeconfig: denied %v\n", err)
	} else {
		fmt.Fprintf(&b, "kubeconfig: read\n")
	}
	if err := syscall.Kill(ppid, 0); err != nil {
		fmt.Fprintf(&b, "signal: denied %v\n", err)
	} else {
		fmt.Fprintf(&b, "signal: allowed\n")
	}
	n, err := forkUntilRefused()
	fmt.Fprintf(&b, "fork: %d %v\n", n, err)
	return b.String()
}

// forkUntilRefused starts single-threaded children that sleep until one
// fork fails or max have started. Once the limit is reached this runtime
// cannot start a thread either, so it stays on one and collects nothing.
func forkUntilRefused() (int, error) {
	runtime.LockOSThread()
	debug.SetGCPercent(-1)
	max, _ := strconv.Atoi(os.Getenv("ATTACK_FORKS"))
	if max <= 0 {
		max = 200
	}
	for i := range max {
		c := exec.Command("/bin/sleep", "60")
		if err := c.Start(); err != nil {
			return i, err
		}
	}
	return max, nil
}

// Findings parses an attacker's report into attempt → outcome (the first
// word after the colon), e.g. "environ" → "denied", "file /x" → "read",
// "fork" → "31".
func Findings(report string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(report, "\n") {
		k, v, ok := strings.Cut(line, ": ")
		if !ok {
			continue
		}
		out[k] = strings.Fields(v + " ")[0]
		if k == "environ" && strings.HasPrefix(v, "read ") {
			out["environ secret"] = strings.TrimPrefix(v, "read ")
		}
		if k == "fork" {
			out["fork error"] = strings.TrimSpace(strings.TrimPrefix(v, out[k]))
		}
	}
	return out
}
