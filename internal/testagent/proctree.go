package testagent

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/poll"
)

// The process-tree checks of every test that runs real agents: which
// processes an agent left, and that none of them outlives what killed it.

// GrandchildPIDs reads the "grandchild <pid>" lines a forking agent prints.
func GrandchildPIDs(log string) []int {
	var pids []int
	for _, line := range strings.Split(log, "\n") {
		if rest, ok := strings.CutPrefix(line, "grandchild "); ok {
			if pid, err := strconv.Atoi(strings.TrimSpace(rest)); err == nil {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

// ChildPIDs lists the live processes whose parent is pid.
func ChildPIDs(pid int) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		state, ppid, ok := stat(p)
		if ok && state != "Z" && ppid == pid {
			out = append(out, p)
		}
	}
	return out
}

// Gone reports whether pid no longer runs: kill(pid, 0) gives ESRCH, or it
// is a zombie waiting for its parent to reap it.
func Gone(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	state, _, ok := stat(pid)
	return !ok || state == "Z"
}

// GroupGone reports whether no process of the group pgid remains:
// kill(-pgid, 0) gives ESRCH.
func GroupGone(pgid int) bool {
	return errors.Is(syscall.Kill(-pgid, 0), syscall.ESRCH)
}

// AssertGone fails the test unless every pid is gone within timeout (a
// process reparented to init disappears once init reaps it).
func AssertGone(tb testing.TB, timeout time.Duration, what string, pids ...int) {
	tb.Helper()
	poll.Until(tb, timeout, what+" to be gone", func() bool {
		for _, pid := range pids {
			if !Gone(pid) {
				return false
			}
		}
		return true
	})
}

// stat reads a process's state letter and parent from /proc/<pid>/stat:
// "pid (comm) state ppid ...", where comm may hold spaces and parentheses.
func stat(pid int) (state string, ppid int, ok bool) {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return "", 0, false
	}
	s := string(data)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(fields) < 2 {
		return "", 0, false
	}
	ppid, err = strconv.Atoi(fields[1])
	return fields[0], ppid, err == nil
}
