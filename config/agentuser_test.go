package config

import (
	"strings"
	"testing"
)

func TestAgentUserOptions(t *testing.T) {
	c, err := Parse(append(base, "--agent-user", "kmr-agent", "--agent-max-processes", "512",
		"--agent-max-open-files", "1024", "--agent-env-file", "/etc/kmr/agent.env"),
		env(map[string]string{"AGENT_GROUP": "kmr-agent", "AGENT_MAX_ADDRESS_SPACE": "8589934592"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.AgentUser != "kmr-agent" || c.AgentGroup != "kmr-agent" || c.AgentMaxProcesses != 512 ||
		c.AgentMaxOpenFiles != 1024 || c.AgentMaxAddressSpace != 8<<30 || c.AgentEnvFile != "/etc/kmr/agent.env" {
		t.Errorf("parsed %+v", c)
	}
	d, err := Parse(base, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if d.AgentUser != "" || d.AgentMaxProcesses != 0 || d.AgentMaxOpenFiles != 0 || d.AgentMaxAddressSpace != 0 {
		t.Errorf("defaults isolate agents: %+v", d)
	}
}

func TestAgentUserOptionsRefused(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--agent-group", "kmr-agent"}, "--agent-group (AGENT_GROUP): it needs --agent-user"},
		{[]string{"--agent-max-processes", "100"}, "--agent-max-processes (AGENT_MAX_PROCESSES)"},
		{[]string{"--agent-user", "a", "--agent-max-address-space", "1000"}, "--agent-max-address-space (AGENT_MAX_ADDRESS_SPACE): 1000 is under"},
		{[]string{"--agent-max-open-files", "3"}, "--agent-max-open-files (AGENT_MAX_OPEN_FILES): 3 is under 16"},
		{[]string{"--agent-max-open-files", "-1"}, "invalid --agent-max-open-files (AGENT_MAX_OPEN_FILES)"},
	} {
		_, err := Parse(append(append([]string{}, base...), tc.args...), env(nil))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want it to name %q", tc.args, err, tc.want)
		}
	}
}
