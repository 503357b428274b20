package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/config"
)

func TestIsolationOfRefusesWhatWouldFailEveryIncident(t *testing.T) {
	envFile := filepath.Join(t.TempDir(), "agent.env")
	if err := os.WriteFile(envFile, []byte("# the key agents use\nANTHROPIC_API_KEY=sk-test\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "bad.env")
	if err := os.WriteFile(bad, []byte("export KEY value\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		cfg  config.Config
		want string
	}{
		{config.Config{AgentUser: "no-such-agent-user"}, "--agent-user (AGENT_USER): look up user"},
		{config.Config{AgentUser: "root"}, "must not run as root"},
		{config.Config{AgentEnvFile: bad}, "--agent-env-file (AGENT_ENV_FILE)"},
		{config.Config{AgentEnvFile: filepath.Join(t.TempDir(), "missing")}, "--agent-env-file (AGENT_ENV_FILE)"},
	} {
		if _, err := isolationOf(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want %q", tc.cfg, err, tc.want)
		}
	}
	iso, err := isolationOf(config.Config{AgentEnvFile: envFile, AgentMaxOpenFiles: 1024})
	if err != nil {
		t.Fatal(err)
	}
	if iso.User != nil || iso.Limits.OpenFiles != 1024 || iso.Helper == "" {
		t.Errorf("isolation %+v: want no user, the limit and this binary as the helper", iso)
	}
	if os.Geteuid() == 0 {
		iso, err := isolationOf(config.Config{AgentUser: "nobody"})
		if err != nil || iso.User == nil || iso.User.UID != 65534 {
			t.Errorf("nobody as root: %+v, %v", iso, err)
		}
	}
}
