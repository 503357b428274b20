package test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// checkConfig runs the built binary's check-config with args and the
// environment env, and returns its exit code, stdout and stderr.
func checkConfig(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(binary(t), append([]string{"check-config"}, args...)...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, stdout.String(), stderr.String()
	case errors.As(err, &exit):
		return exit.ExitCode(), stdout.String(), stderr.String()
	}
	t.Fatalf("check-config: %v", err)
	return 0, "", ""
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCheckConfigPrintsEffectiveConfigRedacted: a valid configuration from
// all four layers exits 0 and is printed merged, with the URL password,
// the bearer token and a credential in the agent's arguments hidden.
func TestCheckConfigPrintsEffectiveConfigRedacted(t *testing.T) {
	dir := t.TempDir()
	const password, token, apiKey = "s3cret-pass", "tok-9f8e7d6c5b4a", "sk-live-0123456789"
	tokenFile := writeFile(t, dir, "token", token)
	clusters := writeFile(t, dir, "clusters.yaml", `clusters:
  - name: prod
    endpoint: https://ops:`+password+`@mcp.prod.example:8443/mcp
    bearerTokenFile: `+tokenFile+`
  - name: staging
    endpoint: http://127.0.0.1:9/mcp
    triage: false
`)
	conf := writeFile(t, dir, "runner.conf", "agent-timeout 90s\nqueue-capacity 7\n")
	code, stdout, stderr := checkConfig(t, []string{"AGENT_TIMEOUT_SECONDS=120", "MAX_QUEUE_AGE_SECONDS=5m"},
		"--config", conf, "--clusters-file", clusters, "--agent-command", "/bin/true",
		"--agent-arg", "--api-key="+apiKey, "--agent-arg", "{{.EventFile}}", "--state-dir", "")
	if code != 0 {
		t.Fatalf("exit %d, want 0\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, want := range []string{
		"agent-timeout 120\n", // environment over config file
		"max-queue-age 300\n", // a Go duration in the environment
		"queue-capacity 7\n",  // from the config file
		"health-port 8080\n",  // default
		"agent-command /bin/true\n",
		"agent-arg --api-key=xxxxx\n",
		"agent-arg {{.EventFile}}\n",
		"endpoint: https://ops:xxxxx@mcp.prod.example:8443/mcp\n",
		"bearerTokenFile: " + tokenFile + "\n",
		"name: staging\n",
		"triage: false\n",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	for _, secret := range []string{password, token, apiKey} {
		if strings.Contains(stdout+stderr, secret) {
			t.Errorf("output shows the secret %q:\n%s%s", secret, stdout, stderr)
		}
	}
	if !strings.Contains(stderr, "configuration OK (2 clusters)") {
		t.Errorf("stderr = %q", stderr)
	}
}

// TestCheckConfigRejectsWithExit2: each invalid configuration exits 2 with
// the culprit named on stderr and nothing printed as effective.
func TestCheckConfigRejectsWithExit2(t *testing.T) {
	dir := t.TempDir()
	good := writeFile(t, dir, "good.yaml", "clusters:\n  - name: a\n    endpoint: http://127.0.0.1:9/mcp\n")
	for _, tc := range []struct {
		name    string
		env     []string
		args    []string
		culprit string
	}{
		{"no agent", nil, []string{"--clusters-file", good}, "--agent-command"},
		{"agent missing", nil, []string{"--clusters-file", good, "--agent-command", filepath.Join(dir, "nope")}, "--agent-command"},
		{"bad env value", []string{"AGENT_TIMEOUT_SECONDS=soon"}, []string{"--clusters-file", good, "--agent-command", "/bin/true"}, "AGENT_TIMEOUT_SECONDS"},
		{"bad clusters file", nil, []string{"--clusters-file", writeFile(t, dir, "bad.yaml", "clusters:\n  - name: Not_A_Label\n    endpoint: http://127.0.0.1:9/mcp\n"), "--agent-command", "/bin/true"}, "Not_A_Label"},
		{"missing token file", nil, []string{"--clusters-file", writeFile(t, dir, "tok.yaml", "clusters:\n  - name: a\n    endpoint: https://h/mcp\n    bearerTokenFile: "+filepath.Join(dir, "absent")+"\n"), "--agent-command", "/bin/true"}, "bearerTokenFile"},
		{"unknown flag", nil, []string{"--no-such-flag"}, "no-such-flag"},
		{"bad notifications file", nil, []string{"--clusters-file", good, "--agent-command", "/bin/true", "--state-dir", dir,
			"--notify-file", writeFile(t, dir, "notify.yaml", "sinks:\n  - name: oncall\n    type: slack\n    slack: {webhookUrlFile: "+filepath.Join(dir, "absent")+"}\n")}, `sink "oncall"`},
		{"short page token", nil, []string{"--clusters-file", good, "--agent-command", "/bin/true",
			"--ui-bearer-token-file", writeFile(t, dir, "token", "short\n")}, "--ui-bearer-token-file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := checkConfig(t, tc.env, tc.args...)
			if code != 2 {
				t.Fatalf("exit %d, want 2\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
			}
			if !strings.Contains(stderr, tc.culprit) {
				t.Errorf("stderr does not name %q: %s", tc.culprit, stderr)
			}
			if stdout != "" {
				t.Errorf("printed an effective configuration for an invalid one:\n%s", stdout)
			}
		})
	}
}
