package procutil

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/testagent"
)

func isolateHelper(mode string) bool {
	switch mode {
	case "attack":
		os.Stdout.WriteString(testagent.Attack())
	case "limits":
		b, _ := os.ReadFile("/proc/self/limits")
		os.Stdout.Write(b)
	case "hardened-parent", "plain-parent":
		// A runner of the agent's own user: Harden, then start an agent
		// of the same uid that tries to read this process's environment.
		if mode == "hardened-parent" {
			if err := Harden(); err != nil {
				os.Stdout.WriteString("harden: " + err.Error() + "\n")
			}
		}
		c := exec.Command(os.Args[0])
		c.Env = []string{"HELPER=attack", "ATTACK_FORKS=1"}
		c.Stdout, c.Stderr = os.Stdout, os.Stderr
		_ = c.Run()
	default:
		return false
	}
	return true
}

func asNobody(t *testing.T, mode string, env ...string) Spec {
	t.Helper()
	bin, dir := testagent.OtherUser(t)
	return Spec{
		Path:    bin,
		Env:     append([]string{"HELPER=" + mode, "PATH=/usr/bin:/bin"}, env...),
		Dir:     dir,
		LogPath: filepath.Join(t.TempDir(), "agent.log"),
		Grace:   500 * time.Millisecond,
		User:    &User{UID: testagent.NobodyUID, GID: testagent.NobodyGID},
		Helper:  bin,
	}
}

func runLog(t *testing.T, s Spec) (Result, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := Run(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	log, _ := os.ReadFile(s.LogPath)
	return res, string(log)
}

// TestRunAsAnotherUser: an agent run as another user cannot read the
// runner's environment or a file only the runner's user may read, and
// cannot signal the runner; its process group is still killed.
func TestRunAsAnotherUser(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(secret, []byte("s3cr3t"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Traversable, so only the file's own mode stands in the way.
	if err := os.Chmod(filepath.Dir(secret), 0o755); err != nil {
		t.Fatal(err)
	}
	res, log := runLog(t, asNobody(t, "attack", "ATTACK_FILES="+secret, "ATTACK_FORKS=1"))
	got := testagent.Findings(log)
	if got["uid"] != strconv.Itoa(testagent.NobodyUID) {
		t.Fatalf("agent ran as uid %q, want %d:\n%s", got["uid"], testagent.NobodyUID, log)
	}
	for attempt, want := range map[string]string{"environ": "denied", "file " + secret: "denied", "signal": "denied"} {
		if got[attempt] != want {
			t.Errorf("%s: %q, want %q:\n%s", attempt, got[attempt], want, log)
		}
	}
	assertGroupGone(t, res.PID)
}

// TestRunLimitsHoldFromTheStart: the limits helper sets the kernel limits
// before the command runs (they show in its own /proc/self/limits, soft
// and hard), and an agent cannot fork past its process limit.
func TestRunLimitsHoldFromTheStart(t *testing.T) {
	s := asNobody(t, "limits")
	s.Limits = Limits{Processes: 4000, OpenFiles: 77, AddressSpace: 8 << 30}
	res, log := runLog(t, s)
	if !res.Success() {
		t.Fatalf("result %+v:\n%s", res, log)
	}
	for _, want := range []string{
		`Max processes\s+4000\s+4000\s+processes`,
		`Max open files\s+77\s+77\s+files`,
		`Max address space\s+8589934592\s+8589934592\s+bytes`,
	} {
		if !regexpMatch(want, log) {
			t.Errorf("limits lack %q:\n%s", want, log)
		}
	}

	const nproc = 40
	s = asNobody(t, "attack", "ATTACK_FORKS=500")
	s.Limits = Limits{Processes: nproc}
	res, log = runLog(t, s)
	got := testagent.Findings(log)
	n, err := strconv.Atoi(got["fork"])
	if err != nil {
		t.Fatalf("no fork finding:\n%s", log)
	}
	t.Logf("forked %d children, then: %s", n, got["fork error"])
	if n >= nproc || !strings.Contains(got["fork error"], syscall.EAGAIN.Error()) {
		t.Errorf("agent forked %d children (%s) under a limit of %d processes, want fewer and EAGAIN", n, got["fork error"], nproc)
	}
	assertGroupGone(t, res.PID)
}

// TestRunLimitsNeedAHelper: limits without a helper binary refuse to start
// rather than run the agent unbounded.
func TestRunLimitsNeedAHelper(t *testing.T) {
	s := spec(t, "ok")
	s.Limits = Limits{OpenFiles: 64}
	if _, err := Run(context.Background(), s); err == nil {
		t.Fatal("Run started a command with limits and no helper")
	}
}

// TestHardenRefusesSameUserReaders: a process of the runner's own user
// reads the runner's /proc/<pid>/environ, until the runner has called
// Harden (non-dumpable).
func TestHardenRefusesSameUserReaders(t *testing.T) {
	_, plain := runLog(t, asNobody(t, "plain-parent"))
	if got := testagent.Findings(plain)["environ"]; got != "read" {
		t.Fatalf("without Harden a same-user agent got %q reading the runner's environ, want read (the test shows nothing otherwise):\n%s", got, plain)
	}
	_, hardened := runLog(t, asNobody(t, "hardened-parent"))
	if got := testagent.Findings(hardened)["environ"]; got != "denied" {
		t.Errorf("after Harden a same-user agent got %q reading the runner's environ, want denied:\n%s", got, hardened)
	}
}

func TestLookupUser(t *testing.T) {
	u, err := LookupUser("nobody", "")
	if err != nil {
		t.Skipf("no nobody account: %v", err)
	}
	if u.UID != testagent.NobodyUID {
		t.Errorf("nobody is uid %d", u.UID)
	}
	if u, err := LookupUser("61234", "61235"); err != nil || u.UID != 61234 || u.GID != 61235 {
		t.Errorf("numeric user and group: %+v, %v", u, err)
	}
	if _, err := LookupUser("root", ""); err == nil {
		t.Error("root accepted as the agent user")
	}
	if _, err := LookupUser("no-such-user-here", ""); err == nil {
		t.Error("an unknown user name accepted")
	}
}

func regexpMatch(pattern, s string) bool { return regexp.MustCompile(pattern).MatchString(s) }
