package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Agents of a user of their own (docs/security.md): the account they run
// as, the kernel limits each gets, and the file their secrets come from,
// so none has to sit in the runner's environment.

// limitValue is a kernel limit: a whole number, 0 for the runner's own.
type limitValue struct{ n *int }

func (v limitValue) String() string {
	if v.n == nil {
		return "0"
	}
	return strconv.Itoa(*v.n)
}

func (v limitValue) Set(s string) error {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("%q is not a whole number", s)
	}
	if n < 0 {
		return fmt.Errorf("%q must be 0 (no limit of its own) or more", s)
	}
	*v.n = n
	return nil
}

// MinAgentAddressSpace is the smallest --agent-max-address-space: below
// it the runtimes agents are written in (Go, Node, Python) cannot start.
const MinAgentAddressSpace = 256 << 20

func (c Config) validateAgentUser() error {
	if c.AgentGroup != "" && c.AgentUser == "" {
		return errors.New("invalid --agent-group (AGENT_GROUP): it needs --agent-user (AGENT_USER)")
	}
	if c.AgentMaxProcesses > 0 && c.AgentUser == "" {
		return errors.New("invalid --agent-max-processes (AGENT_MAX_PROCESSES): the kernel counts every process of the agent's user, which without --agent-user (AGENT_USER) is the runner's own")
	}
	if c.AgentMaxAddressSpace > 0 && c.AgentMaxAddressSpace < MinAgentAddressSpace {
		return fmt.Errorf("invalid --agent-max-address-space (AGENT_MAX_ADDRESS_SPACE): %d is under the %d-byte minimum no agent runtime starts below", c.AgentMaxAddressSpace, MinAgentAddressSpace)
	}
	if c.AgentMaxOpenFiles > 0 && c.AgentMaxOpenFiles < 16 {
		return fmt.Errorf("invalid --agent-max-open-files (AGENT_MAX_OPEN_FILES): %d is under 16; an agent could not open its own log and libraries", c.AgentMaxOpenFiles)
	}
	return nil
}
