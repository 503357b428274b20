package app

// Reloading the configuration on SIGHUP.
//
// What a reload applies is the cluster list (--cluster, CLUSTER and the
// --clusters-file): clusters added get a queue, metrics series, dispatch
// workers and a session; clusters removed lose their session at once (no
// new faults), their workers run what is left in their queue, their
// running agents finish, and then their queue and series go; clusters
// whose settings did not change keep their session and subscription. A
// cluster's triage and kubeconfig settings change in place. Every other
// option needs a restart: a reload that changes one logs which, and
// applies the clusters alone. An invalid configuration changes nothing:
// it is logged with its culprit and counted as rejected.

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync/atomic"
	"time"

	"github.com/thejerf/suture/v4"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/config"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/intake"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/metrics"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/queue"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/services/alertmanager"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/services/dispatch"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/services/mcpsession"
)

// sessionTree is the suture subtree of the MCP sessions, which a reload
// adds to and removes from while it runs.
type sessionTree struct {
	*suture.Supervisor
	tokens map[*mcpsession.Session]suture.ServiceToken
}

func newSessionTree(sessions *mcpsession.Set, hook suture.EventHook) *sessionTree {
	t := &sessionTree{
		Supervisor: suture.New("sessions", suture.Spec{EventHook: hook, Timeout: 10 * time.Second}),
		tokens:     map[*mcpsession.Session]suture.ServiceToken{},
	}
	for _, s := range sessions.Sessions() {
		t.start(s)
	}
	return t
}

func (t *sessionTree) start(s *mcpsession.Session) { t.tokens[s] = t.Add(s) }

func (t *sessionTree) stop(s *mcpsession.Session) {
	if token, ok := t.tokens[s]; ok {
		_ = t.RemoveAndWait(token, 15*time.Second)
		delete(t.tokens, s)
	}
}

// reloader is the service that applies a reload for each hangup signal.
// It runs in the intake subtree, so it stops with intake at shutdown; a
// SIGHUP after that is still caught (Run keeps the subscription) and
// ignored.
type reloader struct {
	logger   *slog.Logger
	hangup   <-chan os.Signal
	load     func() (config.Config, error) // nil: reloading is not available
	current  config.Config
	metrics  *metrics.Metrics
	queues   *queue.Set
	intake   *intake.Intake
	dispatch *dispatch.Dispatcher
	sessions *mcpsession.Set
	tree     *sessionTree
	// alerts is the Alertmanager endpoint (nil when off): it learns the
	// new cluster list. alertOnly is the number of alert-only clusters,
	// for readiness.
	alerts    *alertmanager.Service
	alertOnly *atomic.Int32
}

func (r *reloader) String() string { return "reloader" }

func (r *reloader) Serve(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-r.hangup:
			if r.load == nil {
				r.logger.Warn("Received SIGHUP; this runner cannot reload its configuration, ignored")
				continue
			}
			r.logger.Info("Received SIGHUP; reloading the configuration")
			cfg, err := r.load()
			if err == nil {
				err = r.apply(cfg)
			}
			if err != nil {
				r.metrics.ConfigReloads.WithLabelValues("rejected").Inc()
				r.logger.Error("Configuration reload failed; the running configuration is kept", "error", err.Error())
				continue
			}
			r.metrics.ConfigReloads.WithLabelValues("applied").Inc()
		}
	}
}

// apply makes the running runner serve next's clusters.
func (r *reloader) apply(next config.Config) error {
	// A sharded runner keeps its own clusters of the new list, by the
	// shard it started with (changing the shards needs a restart, and
	// config.RestartOnly says so).
	shard := next
	shard.Shard, shard.TotalShards = r.current.Shard, r.current.TotalShards
	next.Clusters = shard.OwnClusters()
	oldNames, newNames := r.current.ClusterNames(), next.ClusterNames()
	var added, removed []string
	for _, n := range newNames {
		if !slices.Contains(oldNames, n) {
			if r.dispatch.Draining(n) {
				return fmt.Errorf("cluster %q was removed and is still draining its queue; add it again once that is done", n)
			}
			added = append(added, n)
		}
	}
	for _, n := range oldNames {
		if !slices.Contains(newNames, n) {
			removed = append(removed, n)
		}
	}
	if r.alerts != nil {
		if err := r.alerts.CheckClusters(newNames); err != nil {
			return err
		}
	}
	if changed := config.RestartOnly(r.current, next); len(changed) > 0 {
		r.logger.Warn("Options changed that take effect only after a restart; not applied", "options", changed)
	}

	byName := make(map[string]config.Cluster, len(next.Clusters))
	for _, c := range next.Clusters {
		byName[c.Name] = c
	}
	for _, n := range added {
		r.metrics.AddCluster(n)
		q := r.queues.Add(n)
		if err := r.dispatch.AddCluster(q, byName[n].Kubeconfig); err != nil {
			return err // checked above; cannot happen
		}
	}
	for _, n := range newNames {
		if !slices.Contains(added, n) {
			r.dispatch.SetKubeconfig(n, byName[n].Kubeconfig)
		}
	}
	// Intake knows the added clusters before their sessions start, and
	// the removed ones until their sessions have stopped.
	during := policies(next)
	for name, p := range policies(r.current) {
		if _, ok := during[name]; !ok {
			during[name] = p
		}
	}
	r.intake.SetClusters(during)
	kept := r.sessions.Reconcile(next.MCPClusters(), r.tree.stop, r.tree.start)
	r.intake.SetClusters(policies(next))
	if r.alerts != nil {
		_ = r.alerts.SetClusters(newNames) // checked above
	}
	if r.alertOnly != nil {
		r.alertOnly.Store(int32(len(next.Clusters) - len(next.MCPClusters())))
	}
	for _, n := range removed {
		r.dispatch.RemoveCluster(n, func() {
			r.queues.Remove(n)
			r.metrics.RemoveCluster(n)
			r.logger.Info("Removed cluster drained: its queued faults ran and its agents finished", "cluster", n)
		})
	}
	r.current.Clusters = next.Clusters
	r.logger.Info("Configuration reloaded",
		"clusters", len(next.Clusters), "added", added, "removed", removed, "sessions_kept_for", len(kept))
	return nil
}
