package config

import (
	"strings"
	"testing"
)

// TestAlertOnlyClusters: a cluster without an endpoint is accepted when
// the Alertmanager intake is on, is left out of the MCP clusters, and may
// not carry subscription settings; without the intake it is an error that
// names the cluster.
func TestAlertOnlyClusters(t *testing.T) {
	token := writeFile(t, "token", "s3cret\n")
	clusters := writeFile(t, "clusters.yaml", `clusters:
  - name: prod
    endpoint: http://mcp.prod:8080/mcp
  - name: edge
`)
	intake := []string{"--agent-command", "/bin/true", "--clusters-file", clusters,
		"--intake-address", "127.0.0.1:9095", "--intake-bearer-token-file", token}
	c, err := Parse(intake, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Clusters) != 2 || !c.Clusters[1].AlertOnly() || c.Clusters[0].AlertOnly() {
		t.Fatalf("clusters %+v", c.Clusters)
	}
	if mcp := c.MCPClusters(); len(mcp) != 1 || mcp[0].Name != "prod" {
		t.Errorf("MCP clusters %+v, want prod alone", mcp)
	}
	var printed strings.Builder
	if err := c.WriteEffective(&printed); err != nil {
		t.Fatal(err)
	}
	out := printed.String()
	if edge := out[strings.Index(out, "- name: edge"):]; strings.Contains(edge, "endpoint") {
		t.Errorf("the effective configuration gives the alert-only cluster an endpoint:\n%s", out)
	}
	if !strings.Contains(out, "intake-address 127.0.0.1:9095") {
		t.Errorf("the effective configuration lacks the intake address:\n%s", out)
	}

	_, err = Parse([]string{"--agent-command", "/bin/true", "--clusters-file", clusters}, env(nil))
	if err == nil || !strings.Contains(err.Error(), `cluster "edge" has no endpoint`) || !strings.Contains(err.Error(), "--intake-address") {
		t.Errorf("alert-only cluster without the intake: %v", err)
	}

	withContext := writeFile(t, "context.yaml", "clusters:\n  - name: edge\n    context: edge-ctx\n")
	_, err = Parse([]string{"--agent-command", "/bin/true", "--clusters-file", withContext,
		"--intake-address", "127.0.0.1:9095", "--intake-bearer-token-file", token}, env(nil))
	if err == nil || !strings.Contains(err.Error(), `cluster "edge": context needs an endpoint`) {
		t.Errorf("alert-only cluster with a context: %v", err)
	}
}

// TestIntakeNeedsCredentials: the endpoint never runs open, and each error
// names the flag at fault.
func TestIntakeNeedsCredentials(t *testing.T) {
	token := writeFile(t, "token", "s3cret")
	base := []string{"--agent-command", "/bin/true", "--cluster", "prod=http://mcp.prod/mcp"}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--intake-address", ":9095"}, "missing --intake-bearer-token-file"},
		{[]string{"--intake-address", "9095", "--intake-bearer-token-file", token}, "invalid --intake-address (INTAKE_ADDRESS)"},
		{[]string{"--intake-address", ":9095", "--intake-basic-auth-username", "am"}, "invalid --intake-basic-auth-username"},
		{[]string{"--intake-address", ":9095", "--intake-bearer-token-file", "/nonexistent/token"}, "invalid --intake-bearer-token-file (INTAKE_BEARER_TOKEN_FILE)"},
		{[]string{"--intake-address", ":9095", "--intake-bearer-token-file", token, "--alertmanager-mapping-file", "/nonexistent.yaml"}, "invalid --alertmanager-mapping-file"},
		{[]string{"--intake-address", ":9095", "--intake-max-body-bytes", "0", "--intake-bearer-token-file", token}, "--intake-max-body-bytes"},
	} {
		_, err := Parse(append(append([]string(nil), base...), c.args...), env(nil))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want one containing %q", c.args, err, c.want)
		}
	}
	cfg, err := Parse(append(base, "--intake-address", ":9095", "--intake-basic-auth-username", "am",
		"--intake-basic-auth-password-file", token), env(nil))
	if err != nil || cfg.IntakeMaxBodyBytes != 4<<20 {
		t.Errorf("basic auth alone: %v (body limit %d)", err, cfg.IntakeMaxBodyBytes)
	}
}
