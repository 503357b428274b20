package app

import (
	"log/slog"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/config"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/intake"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/services/mcpsession"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/services/mcpsession/clusterstate"
)

// reconcileOptions builds the reconcile after a blind window: one
// Reconciler, and so one Gate, for every session of the runner, so that
// --reconcile-concurrency bounds reconciles across all clusters at once.
// With a state dir the live marks come from and go to the journal, so a
// restart knows each cluster's blind window; without one only reconnects
// within a run are reconciled.
//
// Reconciled faults go through intake's waiting Submit: the session wants
// to know which were new and which were already seen (dedup), for the
// blind-window log line, and it waits off the session's reader.
func reconcileOptions(cfg config.Config, in *intake.Intake, durable durableState, logger *slog.Logger) mcpsession.ReconcileOptions {
	o := mcpsession.ReconcileOptions{
		Reconciler: clusterstate.NewReconciler(clusterstate.ReconcilerOptions{
			Limits: clusterstate.Limits{MaxCalls: cfg.ReconcileMaxCalls, MaxBytes: cfg.ReconcileMaxBytes},
			Gate:   clusterstate.NewGate(cfg.ReconcileConcurrency),
			Now:    time.Now,
		}),
		Timeout:      cfg.ReconcileTimeout,
		OnFirstStart: cfg.ReconcileOnFirstStart,
		Submit:       in.Submit,
	}
	if durable.store == nil {
		return o
	}
	live := durable.store.Live()
	marks, err := live.Load()
	if err != nil {
		logger.Warn("Could not read when the clusters were last live; blind windows of the last run are not reconciled", "error", err.Error())
	}
	o.LastLive, o.Marks = marks, live
	return o
}
