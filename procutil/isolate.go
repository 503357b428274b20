package procutil

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// An agent is fed text anyone who can create a pod can write, so it is run
// as a user of its own: another uid cannot signal the runner (kill(2)
// refuses), read its /proc/<pid>/environ or open files only the runner's
// user may read. Kernel limits bound what it can take of the machine.

// User is the account a command runs as: a uid, a primary gid and no
// supplementary groups unless listed.
type User struct {
	UID, GID uint32
	Groups   []uint32
}

// LookupUser resolves --agent-user and --agent-group, by name or number.
// An empty group means the user's primary group.
func LookupUser(name, group string) (User, error) {
	u, err := user.Lookup(name)
	if err != nil {
		var unknown user.UnknownUserError
		if _, numErr := strconv.ParseUint(name, 10, 32); numErr != nil || !errors.As(err, &unknown) {
			return User{}, fmt.Errorf("look up user %q: %w", name, err)
		}
		// A bare uid without a passwd entry is an account too.
		u = &user.User{Uid: name, Gid: name}
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return User{}, fmt.Errorf("user %q: uid %q: %w", name, u.Uid, err)
	}
	gidText := u.Gid
	if group != "" {
		gidText = group
		if g, err := user.LookupGroup(group); err == nil {
			gidText = g.Gid
		} else if _, numErr := strconv.ParseUint(group, 10, 32); numErr != nil {
			return User{}, fmt.Errorf("look up group %q: %w", group, err)
		}
	}
	gid, err := strconv.ParseUint(gidText, 10, 32)
	if err != nil {
		return User{}, fmt.Errorf("user %q: gid %q: %w", name, gidText, err)
	}
	if uid == 0 || gid == 0 {
		return User{}, fmt.Errorf("user %q: agents must not run as root (uid %d, gid %d)", name, uid, gid)
	}
	return User{UID: uint32(uid), GID: uint32(gid)}, nil
}

func (u *User) credential() *syscall.Credential {
	if u == nil {
		return nil
	}
	// Groups non-nil: setgroups is called, so the runner's supplementary
	// groups are not inherited.
	return &syscall.Credential{Uid: u.UID, Gid: u.GID, Groups: append([]uint32{}, u.Groups...)}
}

// Limits are kernel resource limits set in the child before it runs the
// command (soft and hard alike, so the command cannot raise them back).
// Zero leaves a limit as the runner's.
type Limits struct {
	// Processes is RLIMIT_NPROC: the kernel counts every process and
	// thread of the child's real uid, so with a user shared by all agents
	// it bounds them together.
	Processes uint64
	// OpenFiles is RLIMIT_NOFILE, per process.
	OpenFiles uint64
	// AddressSpace is RLIMIT_AS in bytes, per process (virtual memory, not
	// resident: runtimes that reserve large ranges need room above use).
	AddressSpace uint64
}

// Zero reports whether no limit is set.
func (l Limits) Zero() bool { return l == Limits{} }

// HelperArg is the first argument that makes a binary act as the limits
// helper (HelperMain): Go's SysProcAttr has no resource limits, and
// prlimit(2) on a child of another uid needs CAP_SYS_RESOURCE and leaves
// the command a moment without them. The helper is the child: it runs as
// the command's user already, lowers its own limits (no privilege needed)
// and then execs the command in the same process, so the limits hold from
// the command's first instruction.
const HelperArg = "__procutil-exec"

// helperArgs is the helper's command line for path and args under l.
func helperArgs(helper string, l Limits, path string, args []string) (string, []string) {
	argv := []string{helper, HelperArg,
		strconv.FormatUint(l.Processes, 10), strconv.FormatUint(l.OpenFiles, 10), strconv.FormatUint(l.AddressSpace, 10),
		path}
	return helper, append(argv, args...)
}

// HelperMain is the limits helper. A binary that runs commands with
// Spec.Limits calls it first thing with its arguments after the program
// name; it returns at once unless args[0] is HelperArg, and otherwise
// never returns: it execs the command or exits 127 with the reason on
// stderr (which is the agent's log).
func HelperMain(args []string) {
	if len(args) == 0 || args[0] != HelperArg {
		return
	}
	if err := execLimited(args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "kubernetes-mcp-runner agent launcher: %v\n", err)
		os.Exit(127)
	}
}

func execLimited(args []string) error {
	// processes, open files, address space, path, argv[0], args...
	if len(args) < 5 {
		return errors.New("too few arguments")
	}
	resources := []struct {
		name     string
		resource int
	}{{"processes", unix.RLIMIT_NPROC}, {"open files", unix.RLIMIT_NOFILE}, {"address space", unix.RLIMIT_AS}}
	for i, r := range resources {
		v, err := strconv.ParseUint(args[i], 10, 64)
		if err != nil {
			return fmt.Errorf("limit of %s %q: %w", r.name, args[i], err)
		}
		if v == 0 {
			continue
		}
		// syscall.Setrlimit, not unix's: for RLIMIT_NOFILE it also stops
		// the Go runtime from restoring its saved limit at exec.
		if err := syscall.Setrlimit(r.resource, &syscall.Rlimit{Cur: v, Max: v}); err != nil {
			return fmt.Errorf("set limit of %s to %d: %w", r.name, v, err)
		}
	}
	path, argv := args[3], args[4:]
	if err := syscall.Exec(path, argv, os.Environ()); err != nil {
		return fmt.Errorf("exec %s: %w", strings.Join(argv[:1], ""), err)
	}
	return nil
}

// Harden protects the runner from the commands it starts, when they run
// as its own user or inherit its capabilities:
//   - non-dumpable (prctl PR_SET_DUMPABLE 0): its /proc/<pid>/environ,
//     mem and fds belong to root, so a process of the same uid cannot read
//     them, and it leaves no core file;
//   - no ambient capabilities: the capabilities a unit grants the runner
//     (CAP_SETUID, CAP_SETGID, CAP_KILL, CAP_CHOWN) stay in its own
//     permitted and effective sets, but an execve of an ordinary program
//     no longer carries them on to its agents.
func Harden() error {
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl(PR_SET_DUMPABLE, 0): %w", err)
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil && !errors.Is(err, syscall.EINVAL) {
		// EINVAL: a kernel older than 4.3 has no ambient set to clear.
		return fmt.Errorf("prctl(PR_CAP_AMBIENT_CLEAR_ALL): %w", err)
	}
	return nil
}

// Dumpable reports whether this process is dumpable (see Harden).
func Dumpable() bool {
	v, err := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0)
	return err == nil && v != 0
}
