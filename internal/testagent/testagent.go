// Package testagent is a deliberately varied investigation agent for tests.
// A test binary calls Run from TestMain and then points --agent-command at
// itself with the argument "testagent"; the agent's behaviour is chosen by
// the prefix of the incident's RESOURCE_NAME, so one run can mix agents
// that succeed, fail, hang and ignore SIGTERM.
package testagent

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"
)

// Arg is the first argument that selects the test agent.
const Arg = "testagent"

// Run acts as the agent and exits when os.Args[1] is Arg; otherwise it
// returns and the test binary runs its tests.
func Run() {
	if len(os.Args) < 2 || os.Args[1] != Arg {
		return
	}
	os.Exit(agent(os.Args[2:]))
}

func agent(args []string) int {
	if len(args) > 0 && args[0] == "cleanup" {
		// Record the templated arguments where the test can see them.
		dir := os.Getenv("CLEANUP_DIR")
		if dir == "" {
			return 2
		}
		name := fmt.Sprintf("%s/%d", dir, time.Now().UnixNano())
		return exitOn(os.WriteFile(name, []byte(strings.Join(args[1:], " ")), 0o600))
	}
	if len(args) > 0 && args[0] == "grandchild" {
		signal.Ignore(syscall.SIGTERM)
		time.Sleep(time.Hour)
		return 0
	}
	name := os.Getenv("RESOURCE_NAME")
	report := os.Getenv("REPORT_FILE")
	fmt.Printf("test agent for %s\n", name)
	good := func() int { return exitOn(os.WriteFile(report, []byte(strings.Repeat("finding\n", 40)), 0o600)) }
	// TESTAGENT_USAGE, when passed to the agent, is written to its
	// USAGE_FILE by every behaviour: a run that reports its cost.
	if u := os.Getenv("TESTAGENT_USAGE"); u != "" {
		if err := writeUsage(u); err != nil {
			return exitOn(err)
		}
	}
	switch {
	case strings.HasPrefix(name, "paid-"):
		// A good run that cost 40 cents.
		if err := writeUsage(`{"cost_usd": 0.40, "input_tokens": 100, "output_tokens": 10}`); err != nil {
			return exitOn(err)
		}
		return good()
	case strings.HasPrefix(name, "badusage-"):
		// A usage file that is not JSON, then a good report.
		if err := writeUsage(`{"cost_usd": 0.5,`); err != nil {
			return exitOn(err)
		}
		return good()
	case strings.HasPrefix(name, "bigusage-"):
		// A valid object padded past the 4 KiB bound.
		if err := writeUsage(`{"cost_usd": 0.5, "pad": "` + strings.Repeat("p", 5000) + `"}`); err != nil {
			return exitOn(err)
		}
		return good()
	case strings.HasPrefix(name, "paidfail-"):
		// Billed, then failed: the usage is written and the exit is not 0.
		if err := writeUsage(`{"cost_usd": 0.25, "input_tokens": 1000, "output_tokens": 200, "model": "test-model"}`); err != nil {
			return exitOn(err)
		}
		fmt.Fprintln(os.Stderr, "simulated failure after spending")
		return 3
	case strings.HasPrefix(name, "overspend-"):
		// Reports more than the MAX_COST_USD it was given.
		if err := writeUsage(`{"cost_usd": 9.5, "max_seen": "` + os.Getenv("MAX_COST_USD") + `"}`); err != nil {
			return exitOn(err)
		}
		return good()
	case strings.HasPrefix(name, "ok-"):
		return good()
	case strings.HasPrefix(name, "report-"):
		return exitOn(os.WriteFile(report, []byte(HostileReport), 0o600))
	case strings.HasPrefix(name, "slow-"):
		time.Sleep(500 * time.Millisecond)
		return good()
	case strings.HasPrefix(name, "hang-"):
		time.Sleep(time.Hour)
	case strings.HasPrefix(name, "partial-"):
		// Half a report, then hang until the timeout.
		if err := os.WriteFile(report, []byte(PartialReport), 0o600); err != nil {
			return 1
		}
		time.Sleep(time.Hour)
	case strings.HasPrefix(name, "stubborn-"):
		signal.Ignore(syscall.SIGTERM)
		fmt.Println("ignoring SIGTERM")
		time.Sleep(time.Hour)
	case strings.HasPrefix(name, "forker-"):
		// Grandchildren that ignore SIGTERM, then hang.
		for range 2 {
			c := exec.Command(os.Args[0], Arg, "grandchild")
			c.Env = os.Environ()
			if err := c.Start(); err != nil {
				return 1
			}
			fmt.Printf("grandchild %d\n", c.Process.Pid)
		}
		time.Sleep(time.Hour)
	case strings.HasPrefix(name, "attacker-"):
		found := Attack()
		fmt.Print(found)
		return exitOn(os.WriteFile(report, []byte(found+strings.Repeat("#", 100)+"\n"), 0o600))
	case strings.HasPrefix(name, "kubeconfig-"):
		// Report the kubeconfig the agent was given.
		kc, err := os.ReadFile(os.Getenv("KUBECONFIG"))
		if err != nil {
			return exitOn(err)
		}
		return exitOn(os.WriteFile(report, append(kc, strings.Repeat("#", 100)...), 0o600))
	case strings.HasPrefix(name, "fail-"):
		fmt.Fprintln(os.Stderr, "simulated failure")
		return 3
	case strings.HasPrefix(name, "noreport-"):
		return 0
	case strings.HasPrefix(name, "short-"):
		return exitOn(os.WriteFile(report, []byte("too short"), 0o600))
	case strings.HasPrefix(name, "env-"):
		env := os.Environ()
		sort.Strings(env)
		return exitOn(os.WriteFile(report, []byte(strings.Join(env, "\n")+"\n"+strings.Repeat("#", 100)), 0o600))
	case strings.HasPrefix(name, "filler-"):
		// Fill the workspace until stopped.
		chunk := []byte(strings.Repeat("z", 1<<16))
		f, err := os.Create(os.Getenv("WORKSPACE") + "/output/fill.bin")
		if err != nil {
			return 1
		}
		for {
			if _, err := f.Write(chunk); err != nil {
				return 1
			}
			time.Sleep(time.Millisecond)
		}
	case strings.HasPrefix(name, "escaper-"):
		// A grandchild that leaves the agent's process group (setsid),
		// then a clean exit: the group kill cannot reach it.
		c := exec.Command(os.Args[0], Arg, "grandchild")
		c.Env = os.Environ()
		c.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := c.Start(); err != nil {
			return 1
		}
		fmt.Printf("grandchild %d\n", c.Process.Pid)
		return good()
	case strings.HasPrefix(name, "vanisher-"):
		// A grandchild that leaves the group and clears its environment,
		// then the agent exits and orphans it: neither the group kill nor
		// the marker finds it; only a runner that is its subreaper does.
		c := exec.Command(os.Args[0], Arg, "grandchild")
		c.Env = []string{}
		c.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := c.Start(); err != nil {
			return 1
		}
		fmt.Printf("grandchild %d\n", c.Process.Pid)
		return good()
	case strings.HasPrefix(name, "burst-"):
		// 40 MiB at once, then a clean exit: over any cap before a
		// periodic check can see it.
		if err := os.WriteFile(os.Getenv("WORKSPACE")+"/output/burst.bin", make([]byte, 40<<20), 0o600); err != nil {
			return 1
		}
		return good()
	case strings.HasPrefix(name, "flood-"):
		line := strings.Repeat("x", 1023) + "\n"
		for range 10000 {
			os.Stdout.WriteString(line)
		}
		return good()
	}
	return good()
}

// writeUsage writes the run's usage report where the runner said.
func writeUsage(doc string) error {
	path := os.Getenv("USAGE_FILE")
	if path == "" {
		return fmt.Errorf("USAGE_FILE is not set")
	}
	return os.WriteFile(path, []byte(doc), 0o600)
}

// PartialReport is what a partial- agent writes before it hangs.
const PartialReport = "# Investigation (unfinished)\n\nThe pod's memory limit is 64Mi; it was OOM-killed at\n"

func exitOn(err error) int {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// HostileReport is a Markdown report as an agent might write it after
// reading hostile cluster data: a heading and findings, with a script, an
// image that calls out and an event handler embedded.
const HostileReport = `# CrashLoop in payments/api: bad DATABASE_URL

The container exits at start: the secret ` + "`api-db`" + ` holds an empty URL.

## Remediation

Restore the secret and roll the deployment:

` + "```" + `
kubectl -n payments rollout undo deploy/api
` + "```" + `

<script>window.__pwned = 1</script>
<img src="http://attacker.invalid/x.png" onerror="window.__pwned = 2">
<a href="javascript:window.__pwned=3">details</a>
`
