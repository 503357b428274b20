// Package procutil runs a command in its own process group under a context,
// escalating SIGTERM to SIGKILL for the whole group, and reports what
// happened. It knows nothing of incidents, metrics or supervision.
package procutil

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Spec describes one command to run.
type Spec struct {
	// Path is the program; a name without a slash is looked up in the PATH
	// entry of Env (not the runner's own PATH).
	Path string
	Args []string
	Dir  string
	// Env is the child's whole environment: nothing is inherited.
	Env []string
	// LogPath receives stdout and stderr, created 0600. Empty discards them.
	LogPath string
	// LogMaxBytes caps the log; output beyond it is drained and dropped so
	// the child never blocks on a full pipe. Zero means no cap.
	LogMaxBytes int64
	// Grace is how long the group has between SIGTERM and SIGKILL.
	Grace time.Duration
	// Marker, when set ("NAME=value", see Marker), is added to Env and
	// tags every process of the run, so processes that leave the group
	// are found and killed after it (Result.Escaped), or after a crash of
	// the runner with KillMarked.
	Marker string
	// OnStart, when set, is told the process group id as soon as the
	// command has started, so the caller can record it (for KillGroupLeft
	// after a crash) before the command can do anything.
	OnStart func(pgid int)
	// User, when set, runs the command as that uid and gid with only the
	// groups it lists (isolate.go). The runner needs CAP_SETUID and
	// CAP_SETGID for it, and CAP_KILL to signal the group afterwards.
	User *User
	// Limits, when any is set, are set in the child before the command
	// runs, by Helper: a binary that calls HelperMain.
	Limits Limits
	Helper string
}

// Result reports how the command ended.
type Result struct {
	PID int
	// ExitCode is the leader's exit status, or -1 when a signal ended it.
	ExitCode int
	// Signal is the signal that ended the leader, if any.
	Signal syscall.Signal
	// TimedOut: the context's deadline passed. Cancelled: the context was
	// cancelled for another reason. Either means the group was sent SIGTERM.
	TimedOut  bool
	Cancelled bool
	// Killed: the group outlived the grace period and was sent SIGKILL.
	Killed          bool
	Started, Ended  time.Time
	OutputBytes     int64
	OutputTruncated bool
	// Leftover: processes of the group were still present after SIGKILL
	// and groupGoneTimeout, which happens when nothing reaps orphans (a
	// runner that is PID 1 of a container without an init).
	Leftover bool
	// Escaped lists processes that carried Spec.Marker outside the group
	// after it was killed (they had called setsid or setpgid); each was
	// sent SIGKILL.
	Escaped []int
}

// Duration is how long the command ran.
func (r Result) Duration() time.Duration { return r.Ended.Sub(r.Started) }

// Success is a clean exit 0 that was not cut short.
func (r Result) Success() bool {
	return r.ExitCode == 0 && r.Signal == 0 && !r.TimedOut && !r.Cancelled
}

// outputDrainTimeout bounds the wait for the output pipe to close after the
// group is gone; only a process that escaped the group (setsid) can hold it.
const outputDrainTimeout = 2 * time.Second

// groupGoneTimeout bounds the wait for killed group members to be reaped by
// init after the leader is gone.
const groupGoneTimeout = 2 * time.Second

// ErrStart wraps failures to start the command.
var ErrStart = errors.New("start command")

// Run starts spec in a new process group and waits for it. When ctx ends it
// sends SIGTERM to the group, waits spec.Grace, then SIGKILLs the group.
// Whatever the leader's fate, every process left in the group is killed
// before Run returns, so grandchildren cannot outlive their agent.
//
// The returned error is non-nil only when the command could not start.
//
// Run is long on purpose: start, wait, escalation and the final group kill
// share the process handle and the timing of one run, and their order is
// the guarantee; it reads as one sequence.
func Run(ctx context.Context, spec Spec) (Result, error) {
	path, err := lookPath(spec.Path, spec.Env)
	if err != nil {
		return Result{}, fmt.Errorf("%w %q: %w", ErrStart, spec.Path, err)
	}
	out, err := newCappedLog(spec.LogPath, spec.LogMaxBytes)
	if err != nil {
		return Result{}, fmt.Errorf("%w %q: %w", ErrStart, spec.Path, err)
	}
	defer out.Close()

	// Our own pipe rather than exec's copying goroutines: cmd.Wait then
	// returns as soon as the leader exits, even if a grandchild still holds
	// the write end.
	pr, pw, err := os.Pipe()
	if err != nil {
		return Result{}, fmt.Errorf("%w %q: %w", ErrStart, spec.Path, err)
	}
	env := append([]string{}, spec.Env...)
	if spec.Marker != "" {
		env = append(env, spec.Marker)
	}
	argv := append([]string{spec.Path}, spec.Args...)
	if !spec.Limits.Zero() {
		if spec.Helper == "" {
			pw.Close()
			pr.Close()
			return Result{}, fmt.Errorf("%w %q: resource limits need a helper binary", ErrStart, spec.Path)
		}
		path, argv = helperArgs(spec.Helper, spec.Limits, path, argv)
	}
	cmd := &exec.Cmd{
		Path:   path,
		Args:   argv,
		Dir:    spec.Dir,
		Env:    env,
		Stdout: pw,
		Stderr: pw,
		SysProcAttr: &syscall.SysProcAttr{
			Setpgid: true,
			// The kernel kills the child when the thread that forked it
			// dies, so an agent does not outlive a runner killed outright.
			Pdeathsig:  syscall.SIGKILL,
			Credential: spec.User.credential(),
		},
	}

	started := make(chan error, 1)
	exited := make(chan struct{})
	reapNow := make(chan struct{})
	reaped := make(chan error, 1)
	go func() {
		// Pdeathsig is tied to the forking thread, not the process: keep
		// this goroutine on its thread until the child is reaped.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		// Registered under the lock the orphan reaper holds, so it never
		// reaps this child before Wait reads its status.
		leaders.Lock()
		err := cmd.Start()
		if err == nil {
			addLeader(cmd.Process.Pid)
		}
		leaders.Unlock()
		if err != nil {
			started <- err
			return
		}
		started <- nil
		// Wait for exit without reaping: the zombie leader keeps its pid,
		// and so the group id, from being reused until the group is killed.
		waitExitNoReap(cmd.Process.Pid)
		close(exited)
		<-reapNow
		err = cmd.Wait()
		removeLeader(cmd.Process.Pid)
		reaped <- err
	}()

	res := Result{Started: time.Now()}
	if err := <-started; err != nil {
		pw.Close()
		pr.Close()
		return Result{}, fmt.Errorf("%w %q: %w", ErrStart, spec.Path, err)
	}
	pw.Close()
	pgid := cmd.Process.Pid
	res.PID = pgid
	if spec.OnStart != nil {
		spec.OnStart(pgid)
	}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		_, _ = io.Copy(out, pr)
	}()

	select {
	case <-exited:
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			res.TimedOut = true
		} else {
			res.Cancelled = true
		}
		_ = SignalGroup(pgid, syscall.SIGTERM)
		grace := time.NewTimer(spec.Grace)
		select {
		case <-exited:
			grace.Stop()
		case <-grace.C:
			res.Killed = true
			_ = SignalGroup(pgid, syscall.SIGKILL)
			<-exited
		}
	}
	// The leader is gone; anything still in its group is a leftover.
	_ = SignalGroup(pgid, syscall.SIGKILL)
	close(reapNow)
	<-reaped // the exit status is read from ProcessState below
	res.Ended = time.Now()
	res.Leftover = !waitGroupGone(pgid, groupGoneTimeout)
	res.Escaped = killEscaped(spec.Marker, pgid)

	select {
	case <-copied:
	case <-time.After(outputDrainTimeout):
		pr.Close()
		<-copied
	}
	pr.Close()
	res.OutputBytes, res.OutputTruncated = out.written, out.truncated

	res.ExitCode = cmd.ProcessState.ExitCode()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		res.Signal = ws.Signal()
		res.ExitCode = -1
	}
	return res, nil
}

// SignalGroup sends sig to every process in group pgid. A group that no
// longer exists is not an error.
func SignalGroup(pgid int, sig syscall.Signal) error {
	if pgid <= 0 {
		return fmt.Errorf("signal group: invalid pgid %d", pgid)
	}
	err := syscall.Kill(-pgid, sig)
	if err == nil || errors.Is(err, syscall.ESRCH) || errors.Is(err, os.ErrProcessDone) {
		return nil
	}
	return fmt.Errorf("signal group %d with %v: %w", pgid, sig, err)
}

// GroupAlive reports whether any process remains in group pgid.
func GroupAlive(pgid int) bool {
	return syscall.Kill(-pgid, 0) == nil
}

// waitGroupGone polls until no process of group pgid exists, or timeout.
// Killed members that were reparented to this process (as PID 1 or a
// subreaper) stay zombies, and so members of the group, until reaped here.
func waitGroupGone(pgid int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for GroupAlive(pgid) {
		if time.Now().After(deadline) {
			return false
		}
		ReapOrphans(false)
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

// killEscaped kills the processes that carry marker but are no longer in
// group pgid: they left it, so the group kill missed them.
func killEscaped(marker string, pgid int) []int {
	var escaped []int
	for _, pid := range FindMarked(marker) {
		if st, err := readStat(pid); err == nil && st.pgid == pgid {
			continue
		}
		if syscall.Kill(pid, syscall.SIGKILL) == nil {
			escaped = append(escaped, pid)
		}
	}
	if len(escaped) > 0 {
		ReapOrphans(false)
	}
	return escaped
}

func waitExitNoReap(pid int) {
	for {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if !errors.Is(err, syscall.EINTR) {
			return
		}
	}
}

// lookPath resolves a program name against the PATH of the child's own
// environment, so the allow-list decides what the agent can find.
func lookPath(name string, env []string) (string, error) {
	if name == "" {
		return "", errors.New("empty command")
	}
	for i := len(name) - 1; i >= 0; i-- {
		if name[i] == '/' {
			return name, nil
		}
	}
	path := ""
	for _, kv := range env {
		if len(kv) > 5 && kv[:5] == "PATH=" {
			path = kv[5:]
		}
	}
	if path == "" {
		path = "/usr/local/bin:/usr/bin:/bin"
	}
	for _, dir := range splitList(path) {
		if dir == "" {
			dir = "."
		}
		p := dir + "/" + name
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%q not found in PATH %q", name, path)
}

func splitList(path string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(path); i++ {
		if i == len(path) || path[i] == ':' {
			out = append(out, path[start:i])
			start = i + 1
		}
	}
	return out
}

// Environ builds a clean environment: the allowed variables taken from
// lookup (usually os.LookupEnv), then extra, which wins on conflict. The
// result is sorted for reproducible logs and tests.
func Environ(allow []string, lookup func(string) (string, bool), extra map[string]string) []string {
	vars := make(map[string]string, len(allow)+len(extra))
	for _, name := range allow {
		if v, ok := lookup(name); ok {
			vars[name] = v
		}
	}
	for k, v := range extra {
		vars[k] = v
	}
	out := make([]string, 0, len(vars))
	for k, v := range vars {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}
