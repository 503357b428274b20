package config

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"unicode"

	"golang.org/x/sys/unix"
)

// MinEventBytes is the smallest --sse-max-event-bytes that lets a session
// come up: the server's initialize and subscribe answers and a typical
// fault notification each take a few hundred bytes to about 1.5 KiB.
const MinEventBytes = 4096

// Preflight checks what Validate cannot see in the values alone: the agent
// program, the files each cluster names, and settings that would let the
// runner start only to fail every session or every incident. The daemon
// runs it before it opens anything (exit 2 naming the culprit), and so does
// check-config. lookupEnv is the runner's environment (os.LookupEnv).
func (c Config) Preflight(lookupEnv func(string) (string, bool)) error {
	// A Job's agent command is in the agent image, not on this host.
	if c.AgentRuntime != RuntimeJob {
		if err := checkProgram("--agent-command (AGENT_COMMAND)", c.AgentCommand, c.agentPath(lookupEnv)); err != nil {
			return err
		}
	}
	if fields := strings.Fields(c.AgentCleanupCommand); len(fields) > 0 && !strings.Contains(fields[0], "{{") {
		if err := checkProgram("--agent-cleanup-command (AGENT_CLEANUP_COMMAND)", fields[0], c.agentPath(lookupEnv)); err != nil {
			return err
		}
	}
	for _, cl := range c.Clusters {
		if err := cl.preflight(c.AllowPlaintextBearerToken); err != nil {
			return err
		}
	}
	return nil
}

// agentPath is the PATH the agent will search: the runner's own when
// --agent-env-allow passes it on, else the default procutil uses.
func (c Config) agentPath(lookupEnv func(string) (string, bool)) string {
	for _, name := range c.AgentEnvAllow {
		if name == "PATH" {
			if v, ok := lookupEnv("PATH"); ok && v != "" {
				return v
			}
		}
	}
	return "/usr/local/bin:/usr/bin:/bin"
}

// checkProgram resolves prog as the agent's exec would and checks that it is
// an executable regular file.
func checkProgram(what, prog, path string) error {
	candidates := []string{prog}
	if !strings.Contains(prog, "/") {
		candidates = nil
		for _, dir := range filepath.SplitList(path) {
			if dir == "" {
				dir = "."
			}
			candidates = append(candidates, filepath.Join(dir, prog))
		}
	}
	var firstErr error
	for _, p := range candidates {
		st, err := os.Stat(p)
		switch {
		case err != nil:
			if firstErr == nil && strings.Contains(prog, "/") {
				firstErr = fmt.Errorf("invalid %s: %w", what, err)
			}
			continue
		case st.IsDir():
			firstErr = fmt.Errorf("invalid %s: %s is a directory", what, p)
			continue
		case !st.Mode().IsRegular():
			firstErr = fmt.Errorf("invalid %s: %s is not a regular file", what, p)
			continue
		}
		if err := unix.Access(p, unix.X_OK); err != nil {
			firstErr = fmt.Errorf("invalid %s: %s is not executable by this user: %w", what, p, err)
			continue
		}
		return nil
	}
	if firstErr == nil {
		firstErr = fmt.Errorf("invalid %s: %q not found in the agent's PATH %q", what, prog, path)
	}
	return firstErr
}

// preflight checks one cluster's endpoint and files.
func (cl Cluster) preflight(allowPlaintextToken bool) error {
	if strings.IndexFunc(cl.Endpoint, unicode.IsSpace) >= 0 {
		return fmt.Errorf("cluster %q: endpoint %q contains white space", cl.Name, RedactURL(cl.Endpoint))
	}
	if cl.CAFile != "" {
		data, err := os.ReadFile(cl.CAFile)
		if err != nil {
			return fmt.Errorf("cluster %q: caFile: %w", cl.Name, err)
		}
		if err := checkPEMCertificates(data); err != nil {
			return fmt.Errorf("cluster %q: caFile %s: %w", cl.Name, cl.CAFile, err)
		}
	}
	if cl.BearerTokenFile != "" {
		tok, err := os.ReadFile(cl.BearerTokenFile)
		if err != nil {
			return fmt.Errorf("cluster %q: bearerTokenFile: %w", cl.Name, err)
		}
		if strings.TrimSpace(string(tok)) == "" {
			return fmt.Errorf("cluster %q: bearerTokenFile %s is empty", cl.Name, cl.BearerTokenFile)
		}
		u, err := url.Parse(cl.Endpoint)
		if err == nil && u.Scheme == "http" && !isLoopback(u.Hostname()) && !allowPlaintextToken {
			return fmt.Errorf("cluster %q: endpoint %s is plain http and would send the bearer token unencrypted; use https, or set --allow-plaintext-bearer-token (ALLOW_PLAINTEXT_BEARER_TOKEN) if the network is trusted", cl.Name, RedactURL(cl.Endpoint))
		}
	}
	return nil
}

// checkPEMCertificates requires at least one parseable PEM certificate.
func checkPEMCertificates(data []byte) error {
	found := 0
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			return fmt.Errorf("certificate %d: %w", found+1, err)
		}
		found++
	}
	if found == 0 {
		return errors.New("holds no PEM certificate")
	}
	return nil
}

// isLoopback reports whether host names this machine: plain-text tokens
// to it cross no network.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// RedactURL hides a URL's password (user:pass@host → user:xxxxx@host) so an
// endpoint can be logged, labelled or printed safely. A string that does not
// parse is returned with anything before an '@' in its authority removed.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		if scheme, rest, ok := strings.Cut(raw, "://"); ok {
			if at := strings.LastIndex(rest, "@"); at >= 0 {
				return scheme + "://xxxxx@" + rest[at+1:]
			}
		}
		return raw
	}
	return u.Redacted()
}
