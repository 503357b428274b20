package procutil

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/poll"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/testagent"
)

func TestRunKillsProcessesThatLeaveTheGroup(t *testing.T) {
	s := spec(t, "escape")
	s.Marker = Marker("KMR_TEST_RUN", fmt.Sprintf("escape-%d", time.Now().UnixNano()))
	res, err := Run(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	log, _ := os.ReadFile(s.LogPath)
	pids := testagent.GrandchildPIDs(string(log))
	if len(pids) != 1 {
		t.Fatalf("log %q: want one grandchild", log)
	}
	if !slices.Equal(res.Escaped, pids) {
		t.Fatalf("Escaped = %v, want the grandchild that called setsid %v", res.Escaped, pids)
	}
	testagent.AssertGone(t, 5*time.Second, "the grandchild that left the group", pids[0])
	assertGroupGone(t, res.PID)
}

func TestRunWithoutMarkerReportsNoEscapes(t *testing.T) {
	// Without a marker an escaped process cannot be told apart; Run must
	// not guess. The stray is killed here by its pid.
	s := spec(t, "escape")
	res, err := Run(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	log, _ := os.ReadFile(s.LogPath)
	pids := testagent.GrandchildPIDs(string(log))
	t.Cleanup(func() {
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	if len(res.Escaped) != 0 {
		t.Fatalf("Escaped = %v without a marker", res.Escaped)
	}
	if len(pids) != 1 || testagent.Gone(pids[0]) {
		t.Fatalf("the escaped grandchild %v should still run when no marker tags it", pids)
	}
}

func TestKillMarkedFindsProcessesOfAnEarlierRunner(t *testing.T) {
	// What a restarted runner sees after a crash: processes of an
	// interrupted run, in groups and sessions of their own, not its
	// children. KillMarked finds them by their marker alone.
	marker := Marker("KMR_TEST_RUN", fmt.Sprintf("crash-%d", time.Now().UnixNano()))
	var started []int
	for i := 0; i < 2; i++ {
		c := exec.Command(os.Args[0])
		c.Env = []string{"HELPER=ignore-term", marker}
		c.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		started = append(started, c.Process.Pid)
		go func() { _ = c.Wait() }()
	}
	unrelated := exec.Command(os.Args[0])
	unrelated.Env = []string{"HELPER=sleep", marker + "-other"}
	if err := unrelated.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unrelated.Process.Kill(); _ = unrelated.Wait() })

	poll.Until(t, 5*time.Second, "two marked processes", func() bool { return len(FindMarked(marker)) >= 2 })
	killed := KillMarked(marker)
	slices.Sort(killed)
	slices.Sort(started)
	if !slices.Equal(killed, started) {
		t.Fatalf("KillMarked = %v, want exactly the marked processes %v", killed, started)
	}
	testagent.AssertGone(t, 5*time.Second, "the marked processes", started...)
	if testagent.Gone(unrelated.Process.Pid) {
		t.Fatal("a process with a different marker value was killed")
	}
}

// subreaperCheck runs in a child process, since becoming a subreaper
// changes the whole process. It prints a line per failure and exits 1 if
// there was any.
func subreaperCheck() {
	var failures []string
	fail := func(format string, args ...any) { failures = append(failures, fmt.Sprintf(format, args...)) }
	if err := SetChildSubreaper(); err != nil {
		fmt.Println("FAIL", err)
		os.Exit(1)
	}
	if !IsChildSubreaper() {
		fail("IsChildSubreaper is false after SetChildSubreaper")
	}
	self := os.Getpid()
	run := func(mode string) (Result, []int) {
		dir, _ := os.MkdirTemp("", "subreaper")
		defer os.RemoveAll(dir)
		s := Spec{Path: os.Args[0], Env: []string{"HELPER=" + mode}, LogPath: dir + "/agent.log", Grace: 200 * time.Millisecond}
		res, err := Run(context.Background(), s)
		if err != nil {
			fail("run %s: %v", mode, err)
		}
		log, _ := os.ReadFile(s.LogPath)
		var pids []int
		for _, line := range strings.Split(string(log), "\n") {
			var pid int
			if _, err := fmt.Sscanf(line, "grandchild %d", &pid); err == nil {
				pids = append(pids, pid)
			}
		}
		return res, pids
	}

	// A grandchild left in the group is reparented here when the leader
	// exits; Run kills it and must reap it, or the group never empties.
	res, pids := run("orphans")
	if res.Leftover {
		fail("orphans: Leftover with a subreaper; the killed grandchild was not reaped")
	}
	for _, pid := range pids {
		if _, err := readStat(pid); err == nil {
			fail("orphans: grandchild %d still in the process table", pid)
		}
	}

	// A grandchild that left the group and cleared its environment is
	// reparented here too; once no run is active, ReapOrphans kills it.
	_, pids = run("escape-clean")
	if len(pids) != 1 {
		fail("escape-clean: want one grandchild, got %v", pids)
	} else {
		deadline := time.Now().Add(5 * time.Second)
		for {
			if st, err := readStat(pids[0]); err == nil && st.ppid == self {
				break
			}
			if time.Now().After(deadline) {
				fail("escape-clean: grandchild %d was not reparented to the subreaper", pids[0])
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		killed := ReapOrphans(true)
		if !slices.Equal(killed, pids) {
			fail("ReapOrphans(true) killed %v, want %v", killed, pids)
		}
		if _, err := readStat(pids[0]); err == nil {
			fail("escape-clean: grandchild %d not reaped", pids[0])
		}
	}
	for _, f := range failures {
		fmt.Println("FAIL", f)
	}
	if len(failures) > 0 {
		os.Exit(1)
	}
	fmt.Println("OK")
}

func TestSubreaperReapsAndKillsOrphans(t *testing.T) {
	c := exec.Command(os.Args[0])
	c.Env = append(os.Environ(), "HELPER=subreaper")
	out, err := c.CombinedOutput()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatal(err)
	}
	if err != nil || !strings.Contains(string(out), "OK") {
		t.Fatalf("subreaper check failed (%v):\n%s", err, out)
	}
}
