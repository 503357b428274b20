package testagent

import (
	"io"
	"os"
	"path/filepath"
	"testing"
)

// NobodyUID and NobodyGID are the account tests run agents as when they
// check what an agent of another user can reach: nobody/nogroup exists on
// every Linux system, so no test creates or removes accounts.
const (
	NobodyUID = 65534
	NobodyGID = 65534
)

// OtherUser prepares a test to run agents as nobody: it skips unless the
// test runs as root (only root, or a runner with CAP_SETUID and
// CAP_SETGID, can start a process as another user), and returns a copy of
// the test binary that nobody can execute (go test builds into a 0700
// directory) and a directory nobody can traverse but not list, for
// workspaces.
func OtherUser(tb testing.TB) (bin, dir string) {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("runs agents as another user (nobody): needs root; CI and the dev container run tests as root")
	}
	dir, err := os.MkdirTemp("", "agentuser-")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o711); err != nil {
		tb.Fatal(err)
	}
	bin = filepath.Join(dir, "agent")
	src, err := os.Open(os.Args[0])
	if err != nil {
		tb.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o755)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		tb.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		tb.Fatal(err)
	}
	return bin, dir
}
