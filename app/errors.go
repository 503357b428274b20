package app

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"syscall"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/config"
)

// unusableStateDir classifies a state directory the runner cannot create
// or write. Missing permission, a file in its place or a read-only
// filesystem need an operator (exit 2, no restart loop); a full disk or an
// I/O error may pass (exit 1, restarted with the unit's delay).
func unusableStateDir(err error) error {
	err = fmt.Errorf("--state-dir (STATE_DIR): %w", err)
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EIO) || errors.Is(err, syscall.EDQUOT) {
		return err
	}
	return ConfigError{err}
}

// listenError classifies a failure of the named server to listen: an
// address that does not resolve or parse is configuration (exit 2); a port
// in use may free up (exit 1), and its message names the option that sets
// the address and a port free right now, since the usual cause is another
// program on the same host (kubernetes-mcp-server's own --port, a second
// runner).
func listenError(cfg config.Config, server string, err error) error {
	var dnsErr *net.DNSError
	var addrErr *net.AddrError
	if errors.As(err, &dnsErr) || errors.As(err, &addrErr) {
		return ConfigError{err}
	}
	if !errors.Is(err, syscall.EADDRINUSE) {
		return err
	}
	all := listenOptions(cfg)
	opt, ok := all[server]
	if !ok {
		return err
	}
	// The runner's other servers may not have bound yet: never suggest
	// their ports.
	ours := map[int]bool{}
	for _, o := range all {
		ours[o.port] = true
	}
	hint := fmt.Sprintf("%s is in use by another program; set %s (%s) to a free one", opt.value, opt.flag, opt.env)
	if free, ok := freePortNear(opt.host, opt.port, ours); ok {
		hint += fmt.Sprintf(", e.g. %s %s", opt.flag, opt.with(free))
	}
	return fmt.Errorf("%w: %s", err, hint)
}

// listenOption is the option that sets one server's address.
type listenOption struct {
	flag, env, value string
	host             string
	port             int
	// with renders the option's value with another port.
	with func(port int) string
}

// listenOptions maps each listening server, by its service name, to the
// option that sets its address.
func listenOptions(cfg config.Config) map[string]listenOption {
	port := func(flag, env, host string, p int) listenOption {
		return listenOption{flag: flag, env: env, value: "port " + strconv.Itoa(p), host: host, port: p, with: strconv.Itoa}
	}
	address := func(flag, env, addr string) listenOption {
		host, p, _ := net.SplitHostPort(addr)
		n, _ := strconv.Atoi(p)
		return listenOption{flag: flag, env: env, value: addr, host: host, port: n,
			with: func(free int) string { return net.JoinHostPort(host, strconv.Itoa(free)) }}
	}
	return map[string]listenOption{
		"health-server":       port("--health-port", "HEALTH_PORT", cfg.HealthAddress, cfg.HealthPort),
		"metrics-server":      port("--metrics-port", "METRICS_PORT", cfg.MetricsAddress, cfg.MetricsPort),
		"ui-server":           address("--ui-address", "UI_ADDRESS", cfg.UIAddress),
		"alertmanager-intake": address("--intake-address", "INTAKE_ADDRESS", cfg.IntakeAddress),
		"debug-server":        address("--debug-address", "DEBUG_ADDRESS", cfg.DebugAddress),
		"agent-job-results":   address("--agent-job-results-address", "AGENT_JOB_RESULTS_ADDRESS", cfg.AgentJob.ResultsAddress),
	}
}

// freePortNear finds a port above port, not in skip, that host can listen
// on now, to suggest; it may be taken by the time the operator uses it.
func freePortNear(host string, port int, skip map[int]bool) (int, bool) {
	if port <= 0 {
		return 0, false
	}
	for p := port + 1; p <= min(port+100, 65535); p++ {
		if skip[p] {
			continue
		}
		ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(p)))
		if err == nil {
			_ = ln.Close()
			return p, true
		}
	}
	return 0, false
}
