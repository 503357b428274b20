package app

// The sources of faults as the runner wires them: the MCP sessions and the
// Alertmanager endpoint, both handing faults to intake, and the readiness
// check that says whether faults can arrive.

import (
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/config"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/metrics"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/services/alertmanager"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/services/health"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/services/mcpsession"
)

// alertIntake builds the Alertmanager endpoint, or nil when
// --intake-address is not set. Its errors are configuration errors.
func alertIntake(cfg config.Config, s alertmanager.Submitter, m *metrics.Metrics, logger *slog.Logger) (*alertmanager.Service, error) {
	if cfg.IntakeAddress == "" {
		return nil, nil
	}
	mapping, err := alertmanager.LoadMapping(cfg.AlertmanagerMappingFile)
	if err != nil {
		return nil, fmt.Errorf("--alertmanager-mapping-file (ALERTMANAGER_MAPPING_FILE): %w", err)
	}
	svc, err := alertmanager.New(alertmanager.Options{
		Address: cfg.IntakeAddress,
		Auth: alertmanager.Auth{
			BearerTokenFile:   cfg.IntakeBearerTokenFile,
			BasicAuthUsername: cfg.IntakeBasicAuthUsername, BasicAuthPasswordFile: cfg.IntakeBasicAuthPasswordFile,
		},
		MaxBodyBytes: int64(cfg.IntakeMaxBodyBytes), Mapping: mapping, Clusters: cfg.ClusterNames(),
		Submitter: s, Metrics: alertmanager.RunnerMetrics{M: m}, Logger: logger,
	})
	if err != nil {
		return nil, fmt.Errorf("--intake-address (INTAKE_ADDRESS): %w", err)
	}
	return svc, nil
}

// sourcesCheck ("sources" in /readyz?verbose) makes the runner ready while faults can arrive: while an
// MCP session is live (mcpsession.Set.Ready), or, while some cluster is
// alert-only (alertOnly, which a reload changes), once the Alertmanager
// endpoint listens. It lists the sessions' blind windows in
// /readyz?verbose.
func sourcesCheck(sessions *mcpsession.Set, alerts *alertmanager.Service, alertOnly *atomic.Int32) health.Check {
	ready := func() error {
		err := sessions.Ready()
		if err != nil && len(sessions.Sessions()) == 0 && alertOnly.Load() == 0 {
			return nil // no cluster at all (a shard that owns none): nothing to wait for
		}
		if err == nil || alerts == nil || alertOnly.Load() == 0 {
			return err
		}
		select {
		case <-alerts.Listening():
			return nil
		default:
			return fmt.Errorf("%w, and the Alertmanager endpoint is not listening yet", err)
		}
	}
	return health.Check{Name: "sources", Fn: ready, Detail: sessions.BlindWindows}
}
