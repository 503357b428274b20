package app

// Notifications: the outbox records of a finished incident are built here
// and written by the journal in the transaction that finishes it; the pump
// delivers them; the notices service turns breaker transitions and blind
// clusters into notices that go through the same outbox.
//
//	dispatch ──Finished──► journal.Writer ──(one tx: history + outbox)──► state.db
//	                                └─Written──► pump.Kick
//	breaker ──gauge──► notices ──AddOutbox──► state.db ◄──Due/Save── pump ──► sinks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sort"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/breaker"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/config"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/incident"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/journal"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/metrics"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/notify"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/queue"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/services/mcpsession"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/ui"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/workspace"
)

// notifier is the configured notifications: nil sinks when --notify-file
// is not set.
type notifier struct {
	file   notify.File
	sinks  map[string]notify.Sink
	names  []string
	router notify.Router
	doc    notify.DocOptions
	// reportFile is the report's path relative to a workspace.
	reportFile string
}

// loadNotifier reads --notify-file and builds its sinks. Every error is a
// configuration error naming the file and the sink or key.
func loadNotifier(cfg config.Config, version string) (*notifier, error) {
	n := &notifier{doc: notify.DocOptions{ExternalURL: cfg.ExternalURL}, reportFile: cfg.AgentReportFile}
	if cfg.NotifyFile == "" {
		return n, nil
	}
	if cfg.StateDir == "" {
		return nil, errors.New("--notify-file (NOTIFY_FILE) needs --state-dir (STATE_DIR): the outbox lives in the state store")
	}
	f, err := notify.LoadFile(cfg.NotifyFile)
	if err != nil {
		return nil, fmt.Errorf("--notify-file (NOTIFY_FILE) %s: %w", cfg.NotifyFile, err)
	}
	sinks, err := f.BuildSinks(notify.BuildOptions{UserAgent: "kubernetes-mcp-runner/" + version})
	if err != nil {
		return nil, fmt.Errorf("--notify-file (NOTIFY_FILE) %s: %w", cfg.NotifyFile, err)
	}
	n.file, n.sinks, n.router = f, sinks, f.Router()
	for name := range sinks {
		n.names = append(n.names, name)
	}
	sort.Strings(n.names)
	return n, nil
}

func (n *notifier) enabled() bool { return len(n.sinks) > 0 }

// reportExcerptLimit bounds what is read of a report to build its excerpt.
const reportExcerptLimit = 64 << 10

// incidentRecords are the outbox records of a finished incident, one per
// routed sink.
func (n *notifier) incidentRecords(it queue.Item, rec incident.Record) []notify.OutboxRecord {
	if !n.enabled() {
		return nil
	}
	ev := it.Event
	in := notify.IncidentInput{Incident: notify.Incident{
		ID: rec.IncidentID, Cluster: rec.Cluster, Source: ev.Source,
		Fault: notify.Fault{
			ID: ev.FaultID, Type: ev.FaultType, Severity: ev.Level().String(),
			Resource: notify.Resource(ev.Resource), Context: ev.Context,
		},
		Status: string(rec.Status), Reason: rec.Reason, Attempt: rec.Attempts,
		EnqueuedAt: it.EnqueuedAt, StartedAt: rec.StartedAt, EndedAt: rec.EndedAt,
		DurationSeconds: rec.DurationSeconds,
	}}
	if !it.EnqueuedAt.IsZero() && !rec.StartedAt.IsZero() {
		in.QueuedSeconds = rec.StartedAt.Sub(it.EnqueuedAt).Seconds()
	}
	if rec.Workspace != "" && n.reportFile != "" {
		in.Report.Name = filepath.Base(n.reportFile)
		in.Report.Bytes, in.ReportText = workspace.ReadHead(filepath.Join(rec.Workspace, n.reportFile), reportExcerptLimit)
	}
	doc := notify.NewIncident(in, n.doc)
	return notify.NewRecords(doc, n.route(doc), doc.CreatedAt)
}

// route is the router's sinks that are configured (Validate has checked
// routes name only configured sinks; this keeps a record from ever naming
// another).
func (n *notifier) route(doc notify.Notification) []string {
	var out []string
	for _, s := range n.router.Sinks(doc) {
		if _, ok := n.sinks[s]; ok {
			out = append(out, s)
		}
	}
	return out
}

// outbox is the notification machinery over the store: the pump, the
// metrics it keeps, and what raises notices.
type outbox struct {
	n      *notifier
	store  *journal.Store
	pump   *notify.Pump
	m      *metrics.Metrics
	logger *slog.Logger
}

// newOutbox dead-letters records of sinks no longer configured, prunes old
// finished records, and builds the pump.
func newOutbox(n *notifier, store *journal.Store, m *metrics.Metrics, logger *slog.Logger, keep time.Duration, keepPerSink int) (*outbox, error) {
	m.InitSinks(n.names)
	o := &outbox{n: n, store: store, m: m, logger: logger.With("component", "notifications")}
	now := time.Now()
	dead, err := store.DeadLetterUnknown(n.names, now)
	if err != nil {
		return nil, err
	}
	for _, r := range dead {
		o.logger.Error("Notification dead-lettered", "sink", r.Sink, "key", r.Key, "kind", r.Notification.Kind,
			"attempts", r.Attempts, "reason", r.DeadReason)
	}
	if len(dead) > 0 {
		o.logger.Warn("Pending notifications of sinks no longer in --notify-file were dead-lettered", "count", len(dead))
	}
	if _, err := store.PruneOutbox(keep, keepPerSink, now); err != nil {
		return nil, err
	}
	o.pump, err = notify.NewPump(notify.PumpOptions{
		Store: store, Sinks: n.sinks, Policy: n.file.Policy(), Logger: o.logger,
		OnAttempt: o.attempted,
	})
	if err != nil {
		return nil, err
	}
	o.refreshDepth()
	return o, nil
}

// attempted counts an attempt by the record's final state.
func (o *outbox) attempted(sink string, _ notify.Result, saved notify.OutboxRecord) {
	switch saved.State {
	case notify.StateDelivered:
		o.m.NotificationsSent.WithLabelValues(sink).Inc()
	case notify.StateDead:
		o.m.NotificationsFailed.WithLabelValues(sink).Inc()
		o.m.NotificationsDeadLettered.WithLabelValues(sink, saved.DeadReason).Inc()
	default:
		o.m.NotificationsFailed.WithLabelValues(sink).Inc()
	}
	o.refreshDepth()
}

// refreshDepth sets the outbox depth of every configured sink.
func (o *outbox) refreshDepth() {
	depth, err := o.store.OutboxDepth()
	if err != nil {
		o.logger.Warn("Could not read the outbox depth", "error", err.Error())
		return
	}
	for _, s := range o.n.names {
		o.m.OutboxDepth.WithLabelValues(s).Set(float64(depth[s]))
	}
}

// written is the journal's signal that an incident's records committed.
func (o *outbox) written() {
	o.refreshDepth()
	o.pump.Kick()
}

// raise writes a notice's records and wakes the pump.
func (o *outbox) raise(doc notify.Notification) {
	sinks := o.n.route(doc)
	if len(sinks) == 0 {
		return
	}
	if err := o.store.AddOutbox(notify.NewRecords(doc, sinks, time.Now())); err != nil {
		o.logger.Error("Could not store a notice for delivery", "notice", doc.Status(), "error", err.Error())
		return
	}
	o.written()
}

// breakerGauge passes the breaker's state to its gauge and to the notices
// service: the breaker reports every transition through its gauge.
type breakerGauge struct {
	gauge interface{ Set(float64) }
	c     chan breakerChange
}

type breakerChange struct {
	state string
	at    time.Time
}

func newBreakerGauge(g interface{ Set(float64) }) *breakerGauge {
	return &breakerGauge{gauge: g, c: make(chan breakerChange, 16)}
}

func (g *breakerGauge) Set(v float64) {
	g.gauge.Set(v)
	state := breaker.Closed
	for _, s := range []breaker.State{breaker.HalfOpen, breaker.Open} {
		if s.GaugeValue() == v {
			state = s
		}
	}
	// The breaker holds its lock here: never block it. A change lost to a
	// full buffer is a notice missed, never a stalled dispatch.
	select {
	case g.c <- breakerChange{state.String(), time.Now()}:
	default:
	}
}

// notices is the service that raises system notices: breaker transitions
// as they happen, clusters blind past the threshold on every tick, and an
// hourly prune of old delivered and dead records.
type notices struct {
	o       *outbox
	breaker *notify.BreakerWatch
	blind   *notify.BlindWatch
	changes <-chan breakerChange
	// clusters lists the clusters configured now (a reload adds and
	// removes them); connected says whether one has a live subscription.
	clusters  func() []string
	connected func(cluster string) bool
	watched   map[string]bool
	keep      time.Duration
	keepPer   int
}

func (s *notices) String() string { return "notification notices" }

// watch updates the clusters watched for blindness to those configured
// now. A removed cluster is forgotten without a notice: it is not blind,
// it is gone.
func (s *notices) watch(now time.Time) {
	current := map[string]bool{}
	for _, c := range s.clusters() {
		current[c] = true
	}
	for c := range s.watched {
		if !current[c] {
			s.blind.Seen(c, now)
		}
	}
	s.watched = current
}

func (s *notices) Serve(ctx context.Context) error {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	prune := time.NewTicker(time.Hour)
	defer prune.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case c := <-s.changes:
			if s.breaker == nil {
				continue
			}
			if doc, ok := s.breaker.Transition(c.state, c.at); ok {
				s.o.raise(doc)
			}
		case now := <-tick.C:
			if s.blind == nil {
				continue
			}
			s.watch(now)
			for c := range s.watched {
				if s.connected(c) {
					if doc, ok := s.blind.Seen(c, now); ok {
						s.o.raise(doc)
					}
				} else {
					s.blind.Lost(c, now)
				}
			}
			for _, doc := range s.blind.Due(now) {
				s.o.raise(doc)
			}
		case now := <-prune.C:
			if _, err := s.o.store.PruneOutbox(s.keep, s.keepPer, now); err != nil {
				s.o.logger.Warn("Could not prune the outbox", "error", err.Error())
			}
		}
	}
}

// breakerWatch raises breaker notices unless the file turned them off.
func breakerWatch(n *notifier) *notify.BreakerWatch {
	if !n.file.BreakerNotices() {
		return nil
	}
	return notify.NewBreakerWatch(n.doc)
}

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
	if _, err := loadNotifier(cfg, ""); err != nil {
		return err
	}
	if cfg.UIBearerTokenFile != "" || cfg.UIBasicAuthFile != "" {
		if _, err := ui.Auth(ui.AuthOptions{BearerTokenFile: cfg.UIBearerTokenFile, BasicAuthFile: cfg.UIBasicAuthFile}); err != nil {
			return fmt.Errorf("--ui-bearer-token-file / --ui-basic-auth-file: %w", err)
		}
	}
	return nil
}
