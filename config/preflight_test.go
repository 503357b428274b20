package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func selfSignedPEM(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ca"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func noEnv(string) (string, bool) { return "", false }

func TestPreflightAcceptsAWorkingSetup(t *testing.T) {
	cfg := Defaults()
	cfg.AgentCommand = "true" // found in the default agent PATH
	cfg.Clusters = []Cluster{
		{Name: "a", Endpoint: "https://mcp.a:8443/mcp", CAFile: writeFile(t, "ca.pem", selfSignedPEM(t)), BearerTokenFile: writeFile(t, "tok", "secret\n")},
		{Name: "b", Endpoint: "http://127.0.0.1:8080/mcp", BearerTokenFile: writeFile(t, "tok2", "secret")},
		{Name: "c", Endpoint: "http://localhost:8080/mcp", BearerTokenFile: writeFile(t, "tok3", "secret")},
	}
	if err := cfg.Preflight(noEnv); err != nil {
		t.Fatal(err)
	}
}

func TestPreflightRefusesWhatWouldFailLater(t *testing.T) {
	dir := t.TempDir()
	notExec := writeFile(t, "agent.sh", "#!/bin/sh\n")
	token := writeFile(t, "token", "secret")
	cases := []struct {
		name string
		edit func(*Config)
		want []string
	}{
		{"missing agent", func(c *Config) { c.AgentCommand = "/nonexistent/triage-agent" }, []string{"--agent-command", "AGENT_COMMAND", "/nonexistent/triage-agent"}},
		{"agent is a directory", func(c *Config) { c.AgentCommand = dir }, []string{"--agent-command", "is a directory"}},
		{"agent not executable", func(c *Config) { c.AgentCommand = notExec }, []string{"--agent-command", "not executable"}},
		{"agent not in PATH", func(c *Config) { c.AgentCommand = "no-such-agent-anywhere" }, []string{"--agent-command", "not found in the agent's PATH"}},
		{"cleanup missing", func(c *Config) { c.AgentCleanupCommand = "/nonexistent/cleanup {{.IncidentID}}" }, []string{"--agent-cleanup-command", "/nonexistent/cleanup"}},
		{"caFile not PEM", func(c *Config) { c.Clusters[0].CAFile = writeFile(t, "ca.txt", "not a certificate") }, []string{`cluster "prod"`, "caFile", "no PEM certificate"}},
		{"caFile bad certificate", func(c *Config) {
			c.Clusters[0].CAFile = writeFile(t, "bad.pem", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
		}, []string{`cluster "prod"`, "caFile"}},
		{"space in URL", func(c *Config) { c.Clusters[0].Endpoint = "http://127.0.0.1:8080/m cp" }, []string{`cluster "prod"`, "white space"}},
		{"empty token", func(c *Config) { c.Clusters[0].BearerTokenFile = writeFile(t, "empty", "\n") }, []string{`cluster "prod"`, "bearerTokenFile", "empty"}},
		{"token over plain http", func(c *Config) {
			c.Clusters[0].Endpoint = "http://ops:hunter2@mcp.prod.internal:8080/mcp"
			c.Clusters[0].BearerTokenFile = token
		}, []string{`cluster "prod"`, "plain http", "--allow-plaintext-bearer-token", "ops:xxxxx@"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Defaults()
			cfg.AgentCommand = "/bin/true"
			cfg.Clusters = []Cluster{{Name: "prod", Endpoint: "http://127.0.0.1:8080/mcp"}}
			tc.edit(&cfg)
			err := cfg.Preflight(noEnv)
			if err == nil {
				t.Fatal("Preflight accepted it")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error %q shows the URL's password", err)
			}
		})
	}
}

func TestPreflightPlaintextTokenAllowedExplicitly(t *testing.T) {
	cfg, err := Parse([]string{"--cluster", "prod=http://mcp.prod.internal:8080/mcp", "--agent-command", "/bin/true", "--allow-plaintext-bearer-token"}, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Clusters[0].BearerTokenFile = writeFile(t, "token", "secret")
	if err := cfg.Preflight(noEnv); err != nil {
		t.Fatalf("with --allow-plaintext-bearer-token: %v", err)
	}
}

func TestPreflightSearchesTheAgentsPath(t *testing.T) {
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "triage-agent"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := Defaults()
	cfg.AgentCommand = "triage-agent"
	cfg.Clusters = []Cluster{{Name: "prod", Endpoint: "http://127.0.0.1:8080/mcp"}}
	lookup := func(k string) (string, bool) { return bin, k == "PATH" }
	cfg.AgentEnvAllow = []string{"HOME"}
	if err := cfg.Preflight(lookup); err == nil {
		t.Fatal("found the agent in a PATH the agent does not get")
	}
	cfg.AgentEnvAllow = []string{"PATH"}
	if err := cfg.Preflight(lookup); err != nil {
		t.Fatalf("agent in the passed-on PATH: %v", err)
	}
}

func TestMaxEventBytesMinimum(t *testing.T) {
	_, err := Parse(append(append([]string{}, base...), "--sse-max-event-bytes", "100"), env(nil))
	if err == nil || !strings.Contains(err.Error(), "--sse-max-event-bytes") {
		t.Fatalf("err = %v, want a refusal naming --sse-max-event-bytes", err)
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://user:pass@mcp:8443/mcp": "https://user:xxxxx@mcp:8443/mcp",
		"https://mcp:8443/mcp":           "https://mcp:8443/mcp",
		"http://u:p@a b/mcp":             "http://xxxxx@a b/mcp",
	} {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}
