package procutil

import (
	"bytes"
	"os"
	"syscall"
)

// BootID identifies the running kernel boot. A process group id recorded
// under another boot names nothing of the run that recorded it.
func BootID() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return string(bytes.TrimSpace(b))
}

// KillGroupLeft sends SIGKILL to what is left of a process group a
// previous runner started, found after a crash of that runner, and returns
// the pids it killed. It acts only when the group was recorded under this
// boot (bootID) and its leader (pid == pgid) is gone: the leader of a run
// dies with the runner (Pdeathsig), while a group id the kernel has given
// out again has its new leader alive. Members that cleared their
// environment are found this way; KillMarked finds those that left the
// group.
func KillGroupLeft(pgid int, bootID string) []int {
	if pgid <= 1 || bootID == "" || bootID != BootID() {
		return nil
	}
	if st, err := readStat(pgid); err == nil && st.pgid == pgid && st.state != 'Z' {
		return nil // a live leader: not the group that was recorded
	}
	self := os.Getpid()
	var killed []int
	for _, pid := range pids() {
		if pid == self {
			continue
		}
		st, err := readStat(pid)
		if err != nil || st.pgid != pgid || st.state == 'Z' {
			continue
		}
		if syscall.Kill(pid, syscall.SIGKILL) == nil {
			killed = append(killed, pid)
		}
	}
	if len(killed) > 0 {
		ReapOrphans(false)
	}
	return killed
}
