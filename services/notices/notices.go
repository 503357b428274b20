// Package notices is the notification side of the runner: the configured
// sinks and routes (--notify-file), the outbox records of a finished
// incident, the outbox's pump and metrics, and the service that raises
// system notices.
//
// The outbox records of a finished incident are built here
// and written by the journal in the transaction that finishes it; the pump
// delivers them; the notices service turns breaker transitions and blind
// clusters into notices that go through the same outbox.
//
//	dispatch ──Finished──► journal.Writer ──(one tx: history + outbox)──► state.db
//	                                └─Written──► pump.Kick
//	breaker ──Transitions──► notices ──AddOutbox──► state.db ◄──Due/Save── pump ──► sinks
package notices

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sort"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/breaker"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/config"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/incident"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/journal"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/metrics"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/notify"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/queue"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/workspace"
)

// Notifier is the configured notifications: nil sinks when --notify-file
// is not set.
type Notifier struct {
	file   notify.File
	sinks  map[string]notify.Sink
	names  []string
	router notify.Router
	doc    notify.DocOptions
	// reportFile is the report's path relative to a workspace.
	reportFile string
}

// Load reads --notify-file and builds its sinks. Every error is a
// configuration error naming the file and the sink or key.
func Load(cfg config.Config, version string) (*Notifier, error) {
	n := &Notifier{doc: notify.DocOptions{ExternalURL: cfg.ExternalURL}, reportFile: cfg.AgentReportFile}
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
	n = NewNotifier(sinks, f.Router(), cfg.AgentReportFile, n.doc)
	n.file = f
	return n, nil
}

// Enabled reports whether any sink is configured.
func (n *Notifier) Enabled() bool { return len(n.sinks) > 0 }

// NewNotifier is a Notifier of sinks already built, routed by router,
// that reads each incident's report at reportFile (relative to its
// workspace). Load builds one from --notify-file.
func NewNotifier(sinks map[string]notify.Sink, router notify.Router, reportFile string, doc notify.DocOptions) *Notifier {
	n := &Notifier{sinks: sinks, router: router, reportFile: reportFile, doc: doc}
	for name := range sinks {
		n.names = append(n.names, name)
	}
	sort.Strings(n.names)
	return n
}

// reportExcerptLimit bounds what is read of a report to build its excerpt.
const reportExcerptLimit = 64 << 10

// IncidentRecords are the outbox records of a finished incident, one per
// routed sink.
func (n *Notifier) IncidentRecords(it queue.Item, rec incident.Record) []notify.OutboxRecord {
	if !n.Enabled() {
		return nil
	}
	doc := notify.NewIncident(n.incidentInput(it, rec), n.doc)
	return notify.NewRecords(doc, n.route(doc), doc.CreatedAt)
}

// FeedbackRecords are the outbox records of a person's verdict on a
// finished incident: its document again, with the verdict, read from the
// incident's record and its workspace's event.json.
func (n *Notifier) FeedbackRecords(rec incident.Record) []notify.OutboxRecord {
	if !n.Enabled() || rec.Feedback == nil {
		return nil
	}
	var it queue.Item
	var doc incident.EventDocument
	if rec.Workspace != "" {
		if _, data := workspace.ReadHead(filepath.Join(rec.Workspace, incident.EventFile), eventLimit); json.Unmarshal(data, &doc) == nil {
			it.Event, it.EnqueuedAt = doc.Fault, doc.EnqueuedAt
		}
	}
	if it.Event.FaultID == "" {
		it.Event = fault.Event{FaultID: rec.FaultID, FaultType: rec.FaultType}
	}
	f := rec.Feedback
	n2 := notify.NewFeedback(n.incidentInput(it, rec), notify.Feedback{Verdict: f.Verdict, Note: f.Note, At: f.At}, n.doc)
	return notify.NewRecords(n2, n.route(n2), n2.CreatedAt)
}

// eventLimit bounds what is read of event.json for a feedback
// notification.
const eventLimit = 1 << 20

func (n *Notifier) incidentInput(it queue.Item, rec incident.Record) notify.IncidentInput {
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
	in.Spend = spendOf(rec.Spend)
	if g := rec.Group; g != nil {
		in.Group = &notify.Group{Key: g.Key, Kind: g.Kind, Faults: len(g.Members), Related: len(g.Related)}
	}
	if !it.EnqueuedAt.IsZero() && !rec.StartedAt.IsZero() {
		in.QueuedSeconds = rec.StartedAt.Sub(it.EnqueuedAt).Seconds()
	}
	if rec.Workspace != "" && n.reportFile != "" {
		in.Report.Name = filepath.Base(n.reportFile)
		in.Report.Bytes, in.ReportText = workspace.ReadHead(filepath.Join(rec.Workspace, n.reportFile), reportExcerptLimit)
	}
	return in
}

// route is the router's sinks that are configured (Validate has checked
// routes name only configured sinks; this keeps a record from ever naming
// another).
func (n *Notifier) route(doc notify.Notification) []string {
	var out []string
	for _, s := range n.router.Sinks(doc) {
		if _, ok := n.sinks[s]; ok {
			out = append(out, s)
		}
	}
	return out
}

// Outbox is the notification machinery over the store: the pump, the
// metrics it keeps, and what raises notices.
type Outbox struct {
	n      *Notifier
	store  *journal.Store
	pump   *notify.Pump
	m      *metrics.Metrics
	logger *slog.Logger
}

// NewOutbox dead-letters records of sinks no longer configured, prunes old
// finished records, and builds the pump.
func NewOutbox(n *Notifier, store *journal.Store, m *metrics.Metrics, logger *slog.Logger, keep time.Duration, keepPerSink int) (*Outbox, error) {
	m.InitSinks(n.names)
	o := &Outbox{n: n, store: store, m: m, logger: logger.With("component", "notifications")}
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
func (o *Outbox) attempted(sink string, _ notify.Result, saved notify.OutboxRecord) {
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
func (o *Outbox) refreshDepth() {
	depth, err := o.store.OutboxDepth()
	if err != nil {
		o.logger.Warn("Could not read the outbox depth", "error", err.Error())
		return
	}
	for _, s := range o.n.names {
		o.m.OutboxDepth.WithLabelValues(s).Set(float64(depth[s]))
	}
}

// Pump is the service that delivers the outbox.
func (o *Outbox) Pump() *notify.Pump { return o.pump }

// Written is the journal's signal that an incident's records committed.
func (o *Outbox) Written() {
	o.refreshDepth()
	o.pump.Kick()
}

// Feedback sends a person's verdict on an incident to the sinks its
// routes name. A failure is logged: the verdict itself is stored already.
func (o *Outbox) Feedback(rec incident.Record) {
	recs := o.n.FeedbackRecords(rec)
	if len(recs) == 0 {
		return
	}
	if err := o.store.AddOutbox(recs); err != nil {
		o.logger.Error("Could not store a feedback notification for delivery", "incident_id", rec.IncidentID, "error", err.Error())
		return
	}
	o.Written()
}

// raise writes a notice's records and wakes the pump.
func (o *Outbox) raise(doc notify.Notification) {
	sinks := o.n.route(doc)
	if len(sinks) == 0 {
		return
	}
	if err := o.store.AddOutbox(notify.NewRecords(doc, sinks, time.Now())); err != nil {
		o.logger.Error("Could not store a notice for delivery", "notice", doc.Status(), "error", err.Error())
		return
	}
	o.Written()
}

// Service is the service that raises system notices: breaker transitions
// as they happen, clusters blind past the threshold on every tick, and an
// hourly prune of old delivered and dead records.
type Service struct {
	o       *Outbox
	breaker *notify.BreakerWatch
	blind   *notify.BlindWatch
	changes <-chan breaker.Transition
	// clusters lists the clusters configured now (a reload adds and
	// removes them); connected says whether one has a live subscription.
	clusters  func() []string
	connected func(cluster string) bool
	watched   map[string]bool
	keep      time.Duration
	keepPer   int
}

// ServiceOptions are what the notices service watches.
type ServiceOptions struct {
	// Transitions are the circuit breaker's changes of state.
	Transitions <-chan breaker.Transition
	// Clusters lists the clusters configured now (a reload adds and
	// removes them); Connected says whether one has a live subscription.
	Clusters  func() []string
	Connected func(cluster string) bool
	// Keep and KeepPerSink bound the delivered and dead records kept
	// (--history-max-age, --history-max-entries).
	Keep        time.Duration
	KeepPerSink int
}

// NewService raises the notices the notifications file asks for through o.
func NewService(o *Outbox, so ServiceOptions) *Service {
	return &Service{
		o: o, changes: so.Transitions, clusters: so.Clusters, connected: so.Connected,
		breaker: breakerWatch(o.n), blind: notify.NewBlindWatch(o.n.file.BlindAfter(), o.n.doc),
		keep: so.Keep, keepPer: so.KeepPerSink,
	}
}

func (s *Service) String() string { return "notification-notices" }

// watch updates the clusters watched for blindness to those configured
// now. A removed cluster is forgotten without a notice: it is not blind,
// it is gone.
func (s *Service) watch(now time.Time) {
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

func (s *Service) Serve(ctx context.Context) error {
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
			if doc, ok := s.breaker.Transition(c.To.String(), c.At); ok {
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
func breakerWatch(n *Notifier) *notify.BreakerWatch {
	if !n.file.BreakerNotices() {
		return nil
	}
	return notify.NewBreakerWatch(n.doc)
}
