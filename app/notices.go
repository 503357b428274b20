package app

import (
	"fmt"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/config"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/services/mcpsession"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/services/notices"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/ui"
)

// sessionClusters lists the clusters the session set serves now.
func sessionClusters(set *mcpsession.Set) func() []string {
	return func() []string {
		var out []string
		for _, ss := range set.Sessions() {
			out = append(out, ss.Clusters()...)
		}
		return out
	}
}

// CheckNotifications loads what the daemon would for notifications and the
// incidents page: the notifications file with its sinks' secrets, and the
// page's credential files.
func CheckNotifications(cfg config.Config) error {
	if _, err := notices.Load(cfg, ""); err != nil {
		return err
	}
	if cfg.UIBearerTokenFile != "" || cfg.UIBasicAuthFile != "" {
		if _, err := ui.Auth(ui.AuthOptions{BearerTokenFile: cfg.UIBearerTokenFile, BasicAuthFile: cfg.UIBasicAuthFile}); err != nil {
			return fmt.Errorf("--ui-bearer-token-file / --ui-basic-auth-file: %w", err)
		}
	}
	return nil
}
