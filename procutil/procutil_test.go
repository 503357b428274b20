package procutil

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/testagent"
)

// The test binary doubles as the child process: with HELPER set it acts out
// one behaviour and exits.
func TestMain(m *testing.M) {
	HelperMain(os.Args[1:])
	if mode := os.Getenv("HELPER"); mode != "" {
		helper(mode)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func helper(mode string) {
	if isolateHelper(mode) {
		return
	}
	switch mode {
	case "ok":
		fmt.Println("hello from the agent")
	case "exit3":
		fmt.Fprintln(os.Stderr, "failing")
		os.Exit(3)
	case "sleep":
		time.Sleep(time.Hour)
	case "ignore-term":
		signal.Ignore(syscall.SIGTERM)
		fmt.Println("ignoring SIGTERM")
		time.Sleep(time.Hour)
	case "grandchildren":
		// Two grandchildren that ignore SIGTERM and inherit our output;
		// then the leader itself exits on SIGTERM.
		for i := 0; i < 2; i++ {
			c := exec.Command(os.Args[0])
			c.Env = []string{"HELPER=ignore-term"}
			c.Stdout, c.Stderr = os.Stdout, os.Stderr
			if err := c.Start(); err != nil {
				panic(err)
			}
			fmt.Printf("grandchild %d\n", c.Process.Pid)
		}
		time.Sleep(time.Hour)
	case "orphans":
		// Leave a grandchild behind and exit at once.
		c := exec.Command(os.Args[0])
		c.Env = []string{"HELPER=ignore-term"}
		if err := c.Start(); err != nil {
			panic(err)
		}
		fmt.Printf("grandchild %d\n", c.Process.Pid)
	case "escape", "escape-clean":
		// A grandchild that leaves the group with setsid; "escape-clean"
		// also drops the inherited environment, and with it any marker.
		c := exec.Command(os.Args[0])
		c.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if mode == "escape-clean" {
			c.Env = []string{"HELPER=ignore-term"}
		} else {
			c.Env = append(os.Environ(), "HELPER=ignore-term")
		}
		if err := c.Start(); err != nil {
			panic(err)
		}
		fmt.Printf("grandchild %d\n", c.Process.Pid)
	case "subreaper":
		subreaperCheck()
	case "flood":
		b := []byte(strings.Repeat("x", 4096))
		for i := 0; i < 1024; i++ {
			os.Stdout.Write(b)
		}
	case "env":
		for _, kv := range os.Environ() {
			fmt.Println(kv)
		}
	}
}

func spec(t *testing.T, mode string) Spec {
	t.Helper()
	return Spec{
		Path:    os.Args[0],
		Env:     []string{"HELPER=" + mode},
		LogPath: filepath.Join(t.TempDir(), "agent.log"),
		Grace:   500 * time.Millisecond,
	}
}

func assertGroupGone(t *testing.T, pgid int) {
	t.Helper()
	if !testagent.GroupGone(pgid) {
		t.Fatalf("kill(-%d, 0) is not ESRCH: the process group outlived Run", pgid)
	}
}

func TestRunCompletesBeforeTimeout(t *testing.T) {
	s := spec(t, "ok")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := Run(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Success() || res.TimedOut || res.Killed || res.ExitCode != 0 {
		t.Fatalf("result %+v, want clean success", res)
	}
	log, _ := os.ReadFile(s.LogPath)
	if !strings.Contains(string(log), "hello from the agent") {
		t.Fatalf("log %q lacks the agent's output", log)
	}
	assertGroupGone(t, res.PID)
}

func TestRunReportsExitCode(t *testing.T) {
	res, err := Run(context.Background(), spec(t, "exit3"))
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 3 || res.Success() {
		t.Fatalf("result %+v, want exit code 3", res)
	}
}

func TestRunTimeoutSendsSIGTERM(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	res, err := Run(ctx, spec(t, "sleep"))
	if err != nil {
		t.Fatal(err)
	}
	if !res.TimedOut || res.Killed || res.Signal != syscall.SIGTERM {
		t.Fatalf("result %+v, want timed out and ended by SIGTERM without escalation", res)
	}
	assertGroupGone(t, res.PID)
}

func TestRunEscalatesToSIGKILL(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	s := spec(t, "ignore-term")
	res, err := Run(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if !res.TimedOut || !res.Killed || res.Signal != syscall.SIGKILL {
		t.Fatalf("result %+v, want SIGKILL after the grace period", res)
	}
	// Measured from the context's deadline, which was set before the
	// command started: SIGKILL may not come before deadline + grace.
	deadline, _ := ctx.Deadline()
	if early := deadline.Add(s.Grace).Sub(res.Ended); early > 0 {
		t.Fatalf("killed %v before the deadline plus the grace period %v", early, s.Grace)
	}
	assertGroupGone(t, res.PID)
}

func TestRunKillsGrandchildrenThatIgnoreSIGTERM(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	s := spec(t, "grandchildren")
	time.AfterFunc(500*time.Millisecond, cancel)
	res, err := Run(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Cancelled || res.TimedOut {
		t.Fatalf("result %+v, want cancelled", res)
	}
	assertGroupGone(t, res.PID)
	log, _ := os.ReadFile(s.LogPath)
	pids := testagent.GrandchildPIDs(string(log))
	if len(pids) != 2 {
		t.Fatalf("log %q: want two grandchildren", log)
	}
	testagent.AssertGone(t, 2*time.Second, "the grandchildren that ignore SIGTERM", pids...)
}

func TestRunKillsLeftoversAfterNormalExit(t *testing.T) {
	res, err := Run(context.Background(), spec(t, "orphans"))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Success() {
		t.Fatalf("result %+v", res)
	}
	assertGroupGone(t, res.PID)
}

func TestRunCapsOutput(t *testing.T) {
	s := spec(t, "flood")
	s.LogMaxBytes = 10000
	res, err := Run(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Success() || !res.OutputTruncated {
		t.Fatalf("result %+v, want success with truncated output", res)
	}
	st, err := os.Stat(s.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() > s.LogMaxBytes+100 {
		t.Fatalf("log is %d bytes, cap %d", st.Size(), s.LogMaxBytes)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("log mode %v, want 0600", st.Mode().Perm())
	}
}

func TestRunPassesOnlyTheGivenEnvironment(t *testing.T) {
	t.Setenv("RUNNER_SECRET", "must-not-leak")
	s := spec(t, "env")
	s.Env = Environ([]string{"HOME"}, func(k string) (string, bool) {
		return map[string]string{"HOME": "/home/agent", "RUNNER_SECRET": "x"}[k], k == "HOME"
	}, map[string]string{"HELPER": "env", "INCIDENT_ID": "abc"})
	if _, err := Run(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	log, _ := os.ReadFile(s.LogPath)
	got := strings.Fields(string(log))
	want := []string{"HELPER=env", "HOME=/home/agent", "INCIDENT_ID=abc"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("child environment %q, want exactly %q", got, want)
	}
}

func TestRunStartFailure(t *testing.T) {
	_, err := Run(context.Background(), Spec{Path: "/nonexistent/agent"})
	if !errors.Is(err, ErrStart) {
		t.Fatalf("err = %v, want ErrStart", err)
	}
	_, err = Run(context.Background(), Spec{Path: "no-such-agent-anywhere", Env: []string{"PATH=/usr/bin"}})
	if !errors.Is(err, ErrStart) {
		t.Fatalf("err = %v, want ErrStart", err)
	}
}
