package config

import (
	"errors"
	"fmt"
	"net"
	"os"
	"reflect"
)

// validateIntake checks the Alertmanager intake options: an endpoint that
// is on must authenticate its callers.
func (c Config) validateIntake() error {
	if c.IntakeAddress == "" {
		return nil
	}
	if _, _, err := net.SplitHostPort(c.IntakeAddress); err != nil {
		return fmt.Errorf("invalid --intake-address (INTAKE_ADDRESS): %q is not host:port (%v)", c.IntakeAddress, err)
	}
	user, pass := c.IntakeBasicAuthUsername != "", c.IntakeBasicAuthPasswordFile != ""
	if user != pass {
		return errors.New("invalid --intake-basic-auth-username (INTAKE_BASIC_AUTH_USERNAME): basic auth needs both a user name and --intake-basic-auth-password-file (INTAKE_BASIC_AUTH_PASSWORD_FILE)")
	}
	if c.IntakeBearerTokenFile == "" && !user {
		return errors.New("missing --intake-bearer-token-file (INTAKE_BEARER_TOKEN_FILE) or --intake-basic-auth-username with --intake-basic-auth-password-file: the intake endpoint refuses to run without credentials")
	}
	for _, f := range []struct{ flag, env, path string }{
		{"intake-bearer-token-file", "INTAKE_BEARER_TOKEN_FILE", c.IntakeBearerTokenFile},
		{"intake-basic-auth-password-file", "INTAKE_BASIC_AUTH_PASSWORD_FILE", c.IntakeBasicAuthPasswordFile},
		{"alertmanager-mapping-file", "ALERTMANAGER_MAPPING_FILE", c.AlertmanagerMappingFile},
	} {
		if f.path == "" {
			continue
		}
		if _, err := os.Stat(f.path); err != nil {
			return fmt.Errorf("invalid --%s (%s): %w", f.flag, f.env, err)
		}
	}
	return nil
}

// validateAlertOnly checks a cluster without an endpoint: the settings of
// an MCP subscription would be silently ignored, so they are errors.
func (c Cluster) validateAlertOnly() error {
	for _, s := range []struct {
		key string
		set bool
	}{
		{"context", c.Context != ""}, {"bearerTokenFile", c.BearerTokenFile != ""}, {"caFile", c.CAFile != ""},
		{"filters", !reflect.DeepEqual(c.Filters, Filters{})},
		{"transport", c.Transport != "" && c.Transport != TransportStreamable},
	} {
		if s.set {
			return fmt.Errorf("cluster %q: %s needs an endpoint; a cluster without one receives only Alertmanager alerts", c.Name, s.key)
		}
	}
	if c.Kubeconfig != "" {
		if _, err := os.Stat(c.Kubeconfig); err != nil {
			return fmt.Errorf("cluster %q: kubeconfig: %w", c.Name, err)
		}
	}
	return nil
}

// MCPClusters are the clusters with an MCP endpoint, the ones sessions
// are started for.
func (c Config) MCPClusters() []Cluster {
	out := make([]Cluster, 0, len(c.Clusters))
	for _, cl := range c.Clusters {
		if !cl.AlertOnly() {
			out = append(out, cl)
		}
	}
	return out
}
