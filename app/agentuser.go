package app

import (
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/config"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/procutil"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/services/dispatch"
)

// isolationOf turns --agent-user, the agent limits and --agent-env-file
// into the dispatcher's Isolation, refusing what would fail every
// incident: an unknown user, a runner without the capabilities to start
// agents as it, an env file it cannot read.
func isolationOf(cfg config.Config) (dispatch.Isolation, error) {
	iso := dispatch.Isolation{
		Limits: procutil.Limits{
			Processes:    uint64(cfg.AgentMaxProcesses),
			OpenFiles:    uint64(cfg.AgentMaxOpenFiles),
			AddressSpace: uint64(cfg.AgentMaxAddressSpace),
		},
		EnvFile: cfg.AgentEnvFile,
	}
	if !iso.Limits.Zero() {
		// The limits helper is this binary (main calls HelperMain).
		self, err := os.Executable()
		if err != nil {
			return iso, fmt.Errorf("agent limits: find the runner's own binary: %w", err)
		}
		iso.Helper = self
	}
	if cfg.AgentEnvFile != "" {
		if _, err := dispatch.ReadEnvFile(cfg.AgentEnvFile); err != nil {
			return iso, fmt.Errorf("--agent-env-file (AGENT_ENV_FILE): %w", err)
		}
	}
	if cfg.AgentUser == "" {
		return iso, nil
	}
	u, err := procutil.LookupUser(cfg.AgentUser, cfg.AgentGroup)
	if err != nil {
		return iso, fmt.Errorf("--agent-user (AGENT_USER): %w", err)
	}
	if u.UID == uint32(os.Getuid()) {
		return iso, fmt.Errorf("--agent-user (AGENT_USER): %q is the runner's own user; agents need an account of their own", cfg.AgentUser)
	}
	if missing := missingCapabilities(); len(missing) > 0 {
		return iso, fmt.Errorf("--agent-user (AGENT_USER): the runner lacks %s to start agents as %q and stop them (the systemd unit grants them with AmbientCapabilities)",
			strings.Join(missing, ", "), cfg.AgentUser)
	}
	iso.User = &u
	return iso, nil
}

// missingCapabilities lists what a runner of an ordinary user needs for
// agents of another and does not hold in its effective set: to switch to
// their uid and gid, to signal their process groups, and to take their
// workspaces back.
func missingCapabilities() []string {
	needed := []struct {
		name string
		bit  uint
	}{
		{"CAP_SETUID", unix.CAP_SETUID}, {"CAP_SETGID", unix.CAP_SETGID},
		{"CAP_KILL", unix.CAP_KILL}, {"CAP_CHOWN", unix.CAP_CHOWN},
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return []string{"capabilities (capget: " + err.Error() + ")"}
	}
	var missing []string
	for _, c := range needed {
		if data[c.bit/32].Effective&(1<<(c.bit%32)) == 0 {
			missing = append(missing, c.name)
		}
	}
	return missing
}
