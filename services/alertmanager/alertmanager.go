// Package alertmanager is the runner's second fault source: an HTTP
// endpoint for Alertmanager's webhook_config. Each alert of a notification
// is mapped (Mapping) to a fault of a configured cluster and handed to a
// Submitter, which runs it through the same intake and durable queue as
// faults from MCP sessions.
//
// The answer tells Alertmanager what to do next: 2xx only once every
// firing alert that intake accepted is durably queued; 5xx when the store
// could not take them, so that Alertmanager retries the notification; 4xx
// for a request that will never be accepted (bad credentials, body too
// large, wrong content type, malformed JSON, a payload version other than
// 4), which Alertmanager does not retry. Alerts that can never become
// faults (unknown cluster, no alertname) are counted and logged, and the
// rest of their notification is still accepted.
package alertmanager

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/httpserver"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/logging"
)

// Path is where the endpoint listens; Alertmanager's webhook url must end
// with it.
const Path = "/alertmanager"

// DefaultMaxBodyBytes bounds a notification's body unless Options says
// otherwise: a few hundred alerts with long annotations.
const DefaultMaxBodyBytes = 4 << 20

// RepeatedWarningInterval is how often the same warning about the same
// client is logged; the ones between are counted on the next line.
const RepeatedWarningInterval = 10 * time.Second

// Submitter takes mapped faults into the runner. It is called from
// concurrent requests.
type Submitter interface {
	// Submit runs each fault through intake (filters, dedup, breaker) and
	// queues those that pass, durably. It returns one outcome per fault, in
	// order: intake's outcome names (queued, duplicate, severity_low,
	// triage_disabled, queue_full, breaker_open, ...).
	//
	// A non-nil error means some fault that should have been queued is not
	// durably stored. The endpoint then answers 503 and Alertmanager sends
	// the whole notification again; faults that were stored come back as
	// duplicates.
	Submit(ctx context.Context, faults []Fault) ([]Outcome, error)
	// Resolve reports that the alert behind faultID has resolved. removed
	// is true when its fault was still queued and has been removed
	// (durably); running when its agent runs and is left to finish, the
	// incident recording that the alert resolved meanwhile. A non-nil
	// error means the removal could not be stored: the endpoint answers
	// 503 so that Alertmanager retries.
	Resolve(ctx context.Context, cluster, faultID string) (removed, running bool, err error)
}

// Metrics counts what the endpoint did. Every label value comes from a
// bounded set: cluster is a configured cluster, or "" for alerts that
// name none; results, severities and outcomes are constants of this
// package or the Submitter's outcomes.
type Metrics interface {
	// Notification counts one request by result: Accepted or a Reason.
	Notification(result string)
	// AlertReceived counts one alert of a notification that was answered
	// 2xx, by severity (info, warning, critical, unknown).
	AlertReceived(cluster, severity string)
	// AlertOutcome counts where one such alert ended.
	AlertOutcome(cluster string, outcome Outcome)
}

// Accepted is the Notification result of a request answered 2xx.
const Accepted = "accepted"

// Reasons a request is refused, as Notification results.
const (
	ReasonNotFound         = "not_found"              // 404: another path
	ReasonMethod           = "method_not_allowed"     // 405
	ReasonUnauthorized     = "unauthorized"           // 401
	ReasonMediaType        = "unsupported_media_type" // 415
	ReasonTooLarge         = "too_large"              // 413
	ReasonMalformed        = "malformed"              // 400: not a JSON notification
	ReasonVersion          = "unsupported_version"    // 400: version other than 4
	ReasonStoreUnavailable = "store_unavailable"      // 503: Submit or Resolve failed
)

// Results lists every Notification result, for initialising metric series.
var Results = []string{Accepted, ReasonNotFound, ReasonMethod, ReasonUnauthorized, ReasonMediaType,
	ReasonTooLarge, ReasonMalformed, ReasonVersion, ReasonStoreUnavailable}

// Truncated counts alerts Alertmanager left out of a notification
// (truncatedAlerts, when the receiver sets max_alerts); they reach the
// runner only if they are in a later notification.
const Truncated Outcome = "truncated"

// maxTruncatedCounted bounds how many truncated alerts one notification
// can add to the counts.
const maxTruncatedCounted = 1 << 16

// Options configure the endpoint. Every field but Address is required
// unless it says otherwise.
type Options struct {
	// Address is host:port to listen on; only New needs it. The runner
	// starts the endpoint only when an address is configured.
	Address string
	Auth    Auth
	// MaxBodyBytes bounds a request body (413 above it); 0 means
	// DefaultMaxBodyBytes.
	MaxBodyBytes int64
	Mapping      Mapping
	// Clusters are the configured cluster names; alerts for others are
	// refused as unknown_cluster.
	Clusters  []string
	Submitter Submitter
	// Metrics may be nil: nothing is counted.
	Metrics Metrics
	Logger  *slog.Logger
}

// Handler is the endpoint's http.Handler.
type Handler struct {
	auth    *authenticator
	maxBody int64
	mapping Mapping
	// clusters is replaced whole by SetClusters, after a reload.
	clusters  atomic.Pointer[map[string]bool]
	submitter Submitter
	metrics   Metrics
	logger    *slog.Logger
}

// NewHandler checks o (but not o.Address), reads the credential files and
// returns the handler.
func NewHandler(o Options) (*Handler, error) {
	if o.Submitter == nil || o.Logger == nil {
		return nil, errors.New("alertmanager intake: Submitter and Logger are required")
	}
	if o.MaxBodyBytes < 0 {
		return nil, fmt.Errorf("alertmanager intake: body limit %d is negative", o.MaxBodyBytes)
	}
	if o.MaxBodyBytes == 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if err := o.Mapping.Validate(); err != nil {
		return nil, err
	}
	if err := checkDefaultCluster(o.Mapping, o.Clusters); err != nil {
		return nil, err
	}
	auth, err := newAuthenticator(o.Auth)
	if err != nil {
		return nil, err
	}
	m := o.Metrics
	if m == nil {
		m = nopMetrics{}
	}
	h := &Handler{
		auth:      auth,
		maxBody:   o.MaxBodyBytes,
		mapping:   o.Mapping,
		submitter: o.Submitter,
		metrics:   m,
		// Any client can make the endpoint refuse it again and again: its
		// warnings are reported once per source and interval, counted.
		logger: logging.Limit(o.Logger, RepeatedWarningInterval, time.Now).With("component", "alertmanager-intake"),
	}
	h.clusters.Store(clusterSet(o.Clusters))
	return h, nil
}

func clusterSet(names []string) *map[string]bool {
	set := make(map[string]bool, len(names))
	for _, c := range names {
		set[c] = true
	}
	return &set
}

func checkDefaultCluster(m Mapping, clusters []string) error {
	if m.DefaultCluster != "" && !(*clusterSet(clusters))[m.DefaultCluster] {
		return fmt.Errorf("alertmanager mapping: defaultCluster: %q is not a configured cluster", m.DefaultCluster)
	}
	return nil
}

// CheckClusters reports whether SetClusters(names) would be refused: the
// mapping's defaultCluster must stay configured.
func (h *Handler) CheckClusters(names []string) error { return checkDefaultCluster(h.mapping, names) }

// SetClusters replaces the configured cluster names, after the runner's
// cluster list was reloaded; notifications being handled finish with the
// set they started with.
func (h *Handler) SetClusters(names []string) error {
	if err := h.CheckClusters(names); err != nil {
		return err
	}
	h.clusters.Store(clusterSet(names))
	return nil
}

func (h *Handler) refuse(w http.ResponseWriter, code int, reason, msg string) {
	h.metrics.Notification(reason)
	http.Error(w, msg, code)
}

// ServeHTTP handles one notification.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != Path {
		h.refuse(w, http.StatusNotFound, ReasonNotFound, "not found; Alertmanager notifications go to "+Path)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.refuse(w, http.StatusMethodNotAllowed, ReasonMethod, "method not allowed; use POST")
		return
	}
	if !h.auth.ok(r) {
		for _, c := range h.auth.challenge {
			w.Header().Add("WWW-Authenticate", c)
		}
		h.logger.Warn("Refused notification: bad or missing credentials", "remote", r.RemoteAddr)
		h.refuse(w, http.StatusUnauthorized, ReasonUnauthorized, "unauthorized")
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		h.refuse(w, http.StatusUnsupportedMediaType, ReasonMediaType, "content type must be application/json")
		return
	}
	if r.ContentLength > h.maxBody {
		h.refuse(w, http.StatusRequestEntityTooLarge, ReasonTooLarge, fmt.Sprintf("body over %d bytes", h.maxBody))
		return
	}
	n, err := Decode(http.MaxBytesReader(w, r.Body, h.maxBody))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		h.refuse(w, http.StatusRequestEntityTooLarge, ReasonTooLarge, fmt.Sprintf("body over %d bytes", h.maxBody))
		return
	case errors.Is(err, ErrVersion):
		h.logger.Warn("Refused notification: unsupported payload version", "error", err.Error())
		h.refuse(w, http.StatusBadRequest, ReasonVersion, err.Error())
		return
	case err != nil:
		h.logger.Warn("Refused malformed notification", "error", err.Error())
		h.refuse(w, http.StatusBadRequest, ReasonMalformed, err.Error())
		return
	}
	counts, err := h.process(r.Context(), n)
	if err != nil {
		h.logger.Error("Notification not accepted: the runner could not store it; Alertmanager will retry",
			"error", err.Error(), "alerts", len(n.Alerts), "group_key", truncate(n.GroupKey, 256))
		h.refuse(w, http.StatusServiceUnavailable, ReasonStoreUnavailable, "faults could not be stored; retry")
		return
	}
	h.metrics.Notification(Accepted)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(struct {
		Alerts   int             `json:"alerts"`
		Outcomes map[Outcome]int `json:"outcomes"`
	}{len(n.Alerts), counts})
}

// settled is one alert's end, counted only once the whole notification is
// accepted: a notification answered 5xx comes again and is counted then.
type settled struct {
	cluster, severity string
	outcome           Outcome
}

// process maps every alert, submits the firing ones, resolves the resolved
// ones, and counts them all. An error means nothing was counted and the
// notification must be retried.
func (h *Handler) process(ctx context.Context, n Notification) (map[Outcome]int, error) {
	out := make([]settled, 0, len(n.Alerts))
	var firing, resolved []Fault
	clusters := *h.clusters.Load()
	for _, a := range n.Alerts {
		f, o := h.mapping.Map(a, clusters)
		switch {
		case o == UnknownCluster:
			h.logger.Warn("Refused alert for a cluster that is not configured",
				"cluster_label", h.mapping.ClusterLabel, "cluster", truncate(a.Labels[h.mapping.ClusterLabel], 64),
				"alertname", truncate(a.Labels["alertname"], 128), "fingerprint", truncate(a.Fingerprint, 64))
			out = append(out, settled{"", SeverityUnknown, o})
		case o != "":
			h.logger.Warn("Refused malformed alert", "reason", string(o), "status", truncate(a.Status, 16),
				"alertname", truncate(a.Labels["alertname"], 128), "fingerprint", truncate(a.Fingerprint, 64))
			out = append(out, settled{"", SeverityUnknown, o})
		case f.Status == StatusFiring:
			firing = append(firing, f)
		default:
			resolved = append(resolved, f)
		}
	}
	if len(firing) > 0 {
		outcomes, err := h.submitter.Submit(ctx, firing)
		if err != nil {
			return nil, fmt.Errorf("submit %d firing alerts: %w", len(firing), err)
		}
		if len(outcomes) != len(firing) {
			return nil, fmt.Errorf("submit %d firing alerts: %d outcomes", len(firing), len(outcomes))
		}
		for i, f := range firing {
			out = append(out, settled{f.Cluster, f.Severity, outcomes[i]})
			h.logger.Debug("Alert submitted", "cluster", f.Cluster, "fault_id", f.FaultID,
				"fault_type", f.FaultType, "outcome", string(outcomes[i]))
		}
	}
	for _, f := range resolved {
		removed, running, err := h.submitter.Resolve(ctx, f.Cluster, f.FaultID)
		if err != nil {
			return nil, fmt.Errorf("resolve fault %s of cluster %s: %w", f.FaultID, f.Cluster, err)
		}
		o := ResolvedIdle
		switch {
		case removed:
			o = ResolvedRemoved
			h.logger.Info("Alert resolved while its fault was queued: removed it from the queue",
				"cluster", f.Cluster, "fault_id", f.FaultID, "fault_type", f.FaultType)
		case running:
			o = ResolvedRunning
			h.logger.Info("Alert resolved while its agent runs: letting the agent finish",
				"cluster", f.Cluster, "fault_id", f.FaultID, "fault_type", f.FaultType)
		default:
			h.logger.Debug("Alert resolved; no queued or running fault",
				"cluster", f.Cluster, "fault_id", f.FaultID, "fault_type", f.FaultType)
		}
		out = append(out, settled{f.Cluster, f.Severity, o})
	}
	if n.TruncatedAlerts > 0 {
		h.logger.Warn("Alertmanager left alerts out of the notification (max_alerts)",
			"truncated_alerts", n.TruncatedAlerts, "group_key", truncate(n.GroupKey, 256))
	}
	counts := make(map[Outcome]int)
	for _, s := range out {
		h.metrics.AlertReceived(s.cluster, s.severity)
		h.metrics.AlertOutcome(s.cluster, s.outcome)
		counts[s.outcome]++
	}
	// The count comes from the sender: bounded so that a wrong one cannot
	// keep the handler busy.
	for range min(n.TruncatedAlerts, maxTruncatedCounted) {
		h.metrics.AlertOutcome("", Truncated)
		counts[Truncated]++
	}
	return counts, nil
}

type nopMetrics struct{}

func (nopMetrics) Notification(string)          {}
func (nopMetrics) AlertReceived(string, string) {}
func (nopMetrics) AlertOutcome(string, Outcome) {}

// Service is the endpoint as a suture service: it listens on
// Options.Address until its context ends.
type Service struct {
	handler *Handler
	server  *httpserver.Server
}

// New checks o, reads the credential files and returns the service.
func New(o Options) (*Service, error) {
	if o.Address == "" {
		return nil, errors.New("alertmanager intake: no listen address")
	}
	h, err := NewHandler(o)
	if err != nil {
		return nil, err
	}
	return &Service{handler: h, server: httpserver.New("alertmanager-intake", o.Address, h, o.Logger)}, nil
}

// String names the service in supervisor logs.
func (s *Service) String() string { return s.server.String() }

// Serve listens and serves until ctx ends; a failure to listen is returned
// so the supervisor retries with backoff.
func (s *Service) Serve(ctx context.Context) error { return s.server.Serve(ctx) }

// Listening is closed once the endpoint accepts connections.
func (s *Service) Listening() <-chan struct{} { return s.server.Listening() }

// Addr is the bound address, known once Listening is closed.
func (s *Service) Addr() string { return s.server.Addr() }

// Handler is the endpoint's handler, for mounting elsewhere.
func (s *Service) Handler() http.Handler { return s.handler }

// SetClusters is Handler.SetClusters.
func (s *Service) SetClusters(names []string) error { return s.handler.SetClusters(names) }

// CheckClusters is Handler.CheckClusters.
func (s *Service) CheckClusters(names []string) error { return s.handler.CheckClusters(names) }
