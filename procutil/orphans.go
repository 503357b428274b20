package procutil

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// An agent can leave its process group (setsid, or setpgid to a group of
// its own) and so escape the group kill. Three mechanisms find what is left:
//
//   - Markers: every process of a run carries an environment entry unique
//     to the run (Spec.Marker). The environment is inherited across fork,
//     exec, setsid and double forks, and /proc/<pid>/environ is readable
//     for processes of the same user without privilege. After a run, and
//     after a crash of the runner, processes carrying the marker are
//     killed wherever they went. Only a process that both leaves the group
//     and clears its own environment evades this.
//   - Subreaper: with PR_SET_CHILD_SUBREAPER (no privilege needed) orphaned
//     descendants are reparented to this process instead of init, so they
//     are visible as children and can be reaped and, once no run is active,
//     killed even without a marker.
//   - Reaping: a process that is PID 1 in a container, or a subreaper, must
//     wait for the orphans it inherits or they stay zombies forever.

// leaders is the set of children procutil started and has not yet reaped.
// The children of a process are a property of the process, not of any
// value, so this one piece of state is package-wide: the reaper must never
// wait for a leader whose exit status Run has yet to read.
var leaders = struct {
	sync.Mutex
	pids map[int]struct{}
}{pids: map[int]struct{}{}}

func addLeader(pid int) { leaders.pids[pid] = struct{}{} }

func removeLeader(pid int) {
	leaders.Lock()
	delete(leaders.pids, pid)
	leaders.Unlock()
}

// ActiveRuns is the number of commands started by Run and not yet reaped.
func ActiveRuns() int {
	leaders.Lock()
	defer leaders.Unlock()
	return len(leaders.pids)
}

// SetChildSubreaper makes this process the reaper of its orphaned
// descendants (prctl PR_SET_CHILD_SUBREAPER). It needs no privilege.
func SetChildSubreaper() error {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl(PR_SET_CHILD_SUBREAPER): %w", err)
	}
	return nil
}

// IsChildSubreaper reports whether this process reaps orphaned descendants:
// it is PID 1 of its namespace or has set PR_SET_CHILD_SUBREAPER.
func IsChildSubreaper() bool {
	if os.Getpid() == 1 {
		return true
	}
	var v int32
	if err := unix.Prctl(unix.PR_GET_CHILD_SUBREAPER, uintptr(unsafe.Pointer(&v)), 0, 0, 0); err != nil {
		return false
	}
	return v != 0
}

// procStat is the part of /proc/<pid>/stat procutil needs.
type procStat struct {
	pid, ppid, pgid int
	state           byte
}

// readStat parses /proc/<pid>/stat. The command name may hold spaces and
// parentheses, so fields are counted from the last ')'.
func readStat(pid int) (procStat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 3 || len(f[0]) != 1 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	ppid, err1 := strconv.Atoi(f[1])
	pgid, err2 := strconv.Atoi(f[2])
	if err1 != nil || err2 != nil {
		return procStat{}, fmt.Errorf("/proc/%d/stat: bad ppid or pgrp", pid)
	}
	return procStat{pid: pid, ppid: ppid, pgid: pgid, state: f[0][0]}, nil
}

// pids lists the processes in /proc.
func pids() []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	out := make([]int, 0, len(ents))
	for _, e := range ents {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			out = append(out, pid)
		}
	}
	return out
}

// Marker returns the environment entry that tags every process of one run.
// name should be specific to the runner, value unique to the run.
func Marker(name, value string) string { return name + "=" + value }

// hasMarker reports whether pid's environment holds marker exactly. A
// process of another user, or a zombie, has no readable environment.
func hasMarker(pid int, marker string) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil {
		return false
	}
	for _, kv := range bytes.Split(b, []byte{0}) {
		if string(kv) == marker {
			return true
		}
	}
	return false
}

// FindMarked lists live processes carrying marker, other than this one.
func FindMarked(marker string) []int {
	if marker == "" {
		return nil
	}
	self := os.Getpid()
	var out []int
	for _, pid := range pids() {
		if pid != self && hasMarker(pid, marker) {
			out = append(out, pid)
		}
	}
	return out
}

// KillMarked sends SIGKILL to every process carrying marker and returns the
// pids it found. The runner calls it after a run, for processes that left
// the run's group, and at start for runs a crash interrupted.
func KillMarked(marker string) []int {
	found := FindMarked(marker)
	for _, pid := range found {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	if len(found) > 0 {
		ReapOrphans(false)
	}
	return found
}

// ReapOrphans waits for every zombie child of this process that Run did not
// start: orphans inherited as PID 1 or as a subreaper. With killIfIdle set
// and no run active, it first sends SIGKILL to the live ones: an orphan then
// belongs to a run that has ended. It returns the pids it killed.
func ReapOrphans(killIfIdle bool) (killed []int) {
	leaders.Lock()
	defer leaders.Unlock()
	kill := killIfIdle && len(leaders.pids) == 0
	for _, pid := range children() {
		if _, ours := leaders.pids[pid]; ours {
			continue
		}
		// Reaped at once if it has exited: asked of the kernel as its
		// parent, since the process of another user (an agent user) may be
		// invisible in /proc to the runner (ProtectProc=invisible).
		var ws unix.WaitStatus
		if wpid, err := unix.Wait4(pid, &ws, unix.WNOHANG, nil); wpid == pid || (err != nil && !errors.Is(err, syscall.EINTR)) {
			continue
		}
		if !kill {
			continue
		}
		if syscall.Kill(pid, syscall.SIGKILL) == nil {
			killed = append(killed, pid)
		}
		for {
			// A killed process is reaped as it dies.
			if _, err := unix.Wait4(pid, &ws, 0, nil); !errors.Is(err, syscall.EINTR) {
				break
			}
		}
	}
	return killed
}

// children are the runner's own child processes: from
// /proc/self/task/*/children, which lists them whoever they run as, or, on
// a kernel without it, by the parent pid of every visible process.
func children() []int {
	tasks, _ := filepath.Glob("/proc/self/task/*/children")
	if len(tasks) == 0 {
		self := os.Getpid()
		var out []int
		for _, pid := range pids() {
			if st, err := readStat(pid); err == nil && st.ppid == self {
				out = append(out, pid)
			}
		}
		return out
	}
	var out []int
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil && !slices.Contains(out, pid) {
				out = append(out, pid)
			}
		}
	}
	return out
}

// ReapLoop reaps orphaned zombies whenever a child exits, until ctx ends.
// The runner runs it when IsChildSubreaper is true, so that as PID 1 of a
// container it needs no init. onKilled, if set, is told of live orphans
// killed because no run was active.
func ReapLoop(ctx context.Context, interval time.Duration, onKilled func(pids []int)) {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGCHLD)
	defer signal.Stop(sigs)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-sigs:
		case <-t.C:
		}
		// Orphans found while no run is active belong to a finished run.
		killed := ReapOrphans(true)
		if len(killed) > 0 && onKilled != nil {
			onKilled(killed)
		}
	}
}
