package ui

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

//go:embed templates/*.html
var templateFS embed.FS

// Options configure the handler.
type Options struct {
	Store  Store
	Logger *slog.Logger
	// BasePath is where the handler is mounted (e.g. "/ui"), without a
	// trailing slash; links are built under it. Empty means the root.
	BasePath string
	// Title names the page, e.g. the runner's instance name.
	Title string
	// Clusters, when set, fill the cluster filter's choices.
	Clusters []string
	// FaultTypes, when set, are offered in the fault-type filter.
	FaultTypes []string
	// ListLimit is the list's page size; default 50.
	ListLimit int
	// Refresh is how often the list reloads itself (a meta refresh, which
	// the CSP allows without any script); default 30s, negative for never.
	// People pause it with a link that adds refresh=off.
	Refresh time.Duration
	// ClusterStatus, when set, serves /clusters: each configured cluster,
	// connected or blind, its newest incident and its queue depth.
	ClusterStatus func(context.Context) ([]ClusterStatus, error)
	// Files, when set, serves an incident's workspace files under
	// /incidents/{id}/files/{name} and links them from its page.
	Files FileReader
	// Now defaults to time.Now.
	Now func() time.Time
	// Budget, when set, gives the header's line on today's spend
	// (budget.go).
	Budget func() BudgetHeader
	// Feedback, when set, lets people mark a finished incident's
	// diagnosis right or wrong on its page (feedback.go).
	Feedback FeedbackFunc
}

type handler struct {
	o    Options
	mux  *http.ServeMux
	tmpl *template.Template
	r    *Renderer
}

// New builds the incidents page handler. It serves GET / and /incidents
// (the list) and /incidents/{id} (one incident) relative to where it is
// mounted; mount it with http.StripPrefix(BasePath, h).
func New(o Options) (http.Handler, error) {
	if o.Store == nil {
		return nil, errors.New("ui: no store")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.ListLimit <= 0 {
		o.ListLimit = 50
	}
	if o.Refresh == 0 {
		o.Refresh = 30 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Title == "" {
		o.Title = "Incidents"
	}
	o.BasePath = strings.TrimRight(o.BasePath, "/")
	h := &handler{o: o, r: NewRenderer()}
	t, err := template.New("").Funcs(template.FuncMap{
		"ts":  func(t time.Time) string { return fmtTime(t) },
		"iso": isoTime,
		"add": func(a ...int) int {
			n := 0
			for _, x := range a {
				n += x
			}
			return n
		},
		"ago":          func(t time.Time) string { return ago(o.Now(), t) },
		"dur":          fmtDuration,
		"path":         func(p string) string { return o.BasePath + p },
		"class":        statusClass,
		"budget":       func() string { return h.budgetLine() },
		"clustersView": func() bool { return o.ClusterStatus != nil },
		"filter": func(f filterView, status string) string {
			f.Status, f.Page = status, 0
			return f.url(o.BasePath)
		},
		"page": func(f filterView, page int) string {
			f.Page = page
			return f.url(o.BasePath)
		},
		"refresh": func(f filterView, off bool) string {
			f.RefreshOff = off
			return f.url(o.BasePath)
		},
	}).ParseFS(templateFS, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("ui templates: %w", err)
	}
	h.tmpl = t
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", h.list)
	mux.HandleFunc("GET /incidents", h.list)
	mux.HandleFunc("GET /incidents/{id}", h.incident)
	mux.HandleFunc("POST /incidents/{id}/feedback", h.feedback)
	mux.HandleFunc("GET /incidents/{id}/files/{name}", h.file)
	mux.HandleFunc("GET /clusters", h.clusters)
	h.mux = mux
	return h, nil
}

// ServeHTTP sets the headers every page carries, then routes. The CSP
// allows no script at all and only inline styles: even HTML the sanitiser
// missed could not run.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Cache-Control", "no-store")
	h.mux.ServeHTTP(w, r)
}

type listPage struct {
	Title     string
	Filter    filterView
	Incidents []Summary
	Counts    []statusCount
	// Shown is how many rows this page has; First is the 1-based number
	// of its first; More says a next page exists.
	Shown, First int
	More         bool
	Prev, Next   int
	// RefreshSeconds is the meta refresh's period, 0 for none.
	RefreshSeconds int
	CanRefresh     bool
	Clusters       []string
	Statuses       []string
	Severities     []string
	FaultTypes     []string
	Sinces         []sinceChoice
	ClustersView   bool
}

// filterView is the list's query as the page echoes it in its form and
// links.
type filterView struct {
	Cluster, Status, Since, Q, Severity, FaultType string
	// Page counts from 0.
	Page       int
	RefreshOff bool
}

// url is the list page with these filters.
func (f filterView) url(base string) string {
	v := url.Values{}
	for k, s := range map[string]string{"cluster": f.Cluster, "status": f.Status, "since": f.Since, "q": f.Q,
		"severity": f.Severity, "faultType": f.FaultType} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if f.Page > 0 {
		v.Set("page", strconv.Itoa(f.Page))
	}
	if f.RefreshOff {
		v.Set("refresh", "off")
	}
	if len(v) == 0 {
		return base + "/incidents"
	}
	return base + "/incidents?" + v.Encode()
}

type statusCount struct {
	Status string
	N      int
}

type sinceChoice struct{ Value, Label string }

var sinces = []sinceChoice{{"", "any time"}, {"1h", "last hour"}, {"24h", "last 24 h"}, {"168h", "last 7 days"}, {"720h", "last 30 days"}}

// maxPage bounds how deep the list pages: each page costs a read of the
// history down to it, and search is the way to what lies deeper.
const maxPage = 1000

// parseSince reads the since filter: a duration back from now (24h), an
// RFC 3339 time, or a date.
func parseSince(v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(v); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("since %q: want a duration such as 24h, an RFC 3339 time or a date", v)
}

// parseFilter reads the list's query; an error is for a 400.
func (h *handler) parseFilter(q url.Values) (filterView, Filter, error) {
	fv := filterView{Cluster: strings.TrimSpace(q.Get("cluster")), Status: q.Get("status"), Since: q.Get("since"),
		Q: strings.TrimSpace(q.Get("q")), Severity: q.Get("severity"), FaultType: strings.TrimSpace(q.Get("faultType")),
		RefreshOff: q.Get("refresh") == "off"}
	f := Filter{Cluster: fv.Cluster, Status: fv.Status, Query: fv.Q, Severity: fv.Severity, FaultType: fv.FaultType}
	switch {
	case len(f.Cluster) > 253:
		return fv, f, errors.New("cluster: too long")
	case len(f.Query) > 256:
		return fv, f, errors.New("q: too long")
	case len(f.FaultType) > 128:
		return fv, f, errors.New("faultType: too long")
	case f.Status != "" && !slices.Contains(Statuses, f.Status):
		return fv, f, errors.New("status: want one of " + strings.Join(Statuses, ", "))
	case f.Severity != "" && !slices.Contains(Severities, f.Severity):
		return fv, f, errors.New("severity: want one of " + strings.Join(Severities, ", "))
	}
	if v := q.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > maxPage {
			return fv, f, fmt.Errorf("page %q: want a whole number from 0 to %d", v, maxPage)
		}
		fv.Page = n
	}
	since, err := parseSince(fv.Since, h.o.Now())
	if err != nil {
		return fv, f, err
	}
	f.Since = since
	f.Offset = fv.Page * h.o.ListLimit
	// One more than a page tells whether a next page exists.
	f.Limit = h.o.ListLimit + 1
	return fv, f, nil
}

func (h *handler) list(w http.ResponseWriter, r *http.Request) {
	fv, f, err := h.parseFilter(r.URL.Query())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	incs, err := h.o.Store.List(r.Context(), f)
	if err != nil {
		h.fail(w, r, "list incidents", err)
		return
	}
	page := listPage{
		Title: h.o.Title, Filter: fv, Clusters: h.o.Clusters, Statuses: Statuses, Severities: Severities,
		FaultTypes: h.o.FaultTypes, Sinces: sinces, ClustersView: h.o.ClusterStatus != nil,
		First: f.Offset + 1, Prev: fv.Page - 1, Next: fv.Page + 1, CanRefresh: h.o.Refresh > 0,
	}
	if len(incs) > h.o.ListLimit {
		incs, page.More = incs[:h.o.ListLimit], fv.Page < maxPage
	}
	page.Incidents, page.Shown = incs, len(incs)
	if h.o.Refresh > 0 && !fv.RefreshOff {
		page.RefreshSeconds = max(int(h.o.Refresh/time.Second), 1)
	}
	counts := map[string]int{}
	for _, in := range incs {
		counts[in.Status]++
	}
	for _, s := range Statuses {
		if counts[s] > 0 {
			page.Counts = append(page.Counts, statusCount{s, counts[s]})
			delete(counts, s)
		}
	}
	for s, n := range counts {
		page.Counts = append(page.Counts, statusCount{s, n})
	}
	h.render(w, r, "list.html", page)
}

type incidentPage struct {
	Title    string
	Incident Incident
	Report   template.HTML
	Event    string
	Log      string
	// FeedbackForm shows the form that marks the diagnosis right or wrong.
	FeedbackForm bool
	// Files are the links to its workspace files, when they are served.
	Files []string
}

func (h *handler) incident(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !ValidID(id) {
		http.NotFound(w, r)
		return
	}
	inc, err := h.o.Store.Get(r.Context(), id)
	if errors.Is(err, ErrNotFound) {
		http.NotFound(w, r)
		return
	}
	if err != nil {
		h.fail(w, r, "get incident", err)
		return
	}
	page := incidentPage{Title: h.o.Title, Incident: inc, Event: indentJSON(inc.Event), Log: strings.ToValidUTF8(string(inc.LogTail), "\uFFFD"),
		FeedbackForm: h.o.Feedback != nil && inc.Status != "running"}
	if h.o.Files != nil {
		page.Files = Files
	}
	if len(inc.Report) > 0 {
		page.Report = h.r.Render(inc.Report)
	}
	h.render(w, r, "incident.html", page)
}

func (h *handler) render(w http.ResponseWriter, r *http.Request, name string, data any) {
	var b bytes.Buffer
	if err := h.tmpl.ExecuteTemplate(&b, name, data); err != nil {
		h.fail(w, r, "render "+name, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = b.WriteTo(w)
}

func (h *handler) fail(w http.ResponseWriter, r *http.Request, what string, err error) {
	if errors.Is(err, context.Canceled) {
		return
	}
	h.o.Logger.Error("Incidents page failed", "what", what, "path", r.URL.Path, "error", err.Error())
	http.Error(w, "internal error", http.StatusInternalServerError)
}

func indentJSON(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return strings.ToValidUTF8(string(b), "\uFFFD")
	}
	return out.String()
}

// isoTime is t in UTC as ISO 8601, for the absolute time shown beside a
// relative one.
func isoTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05Z")
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "–"
	}
	return t.UTC().Format("2006-01-02T15:04:05Z")
}

func ago(now, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := now.Sub(t)
	switch {
	case d < 0:
		return "in " + fmtDuration(-d)
	case d < time.Minute:
		return "just now"
	}
	return fmtDuration(d) + " ago"
}

// fmtDuration is a duration as people say it: 45s, 1m20s, 2h, 26h5m, 10d.
func fmtDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return "–"
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		m, s := int(d.Minutes()), int(d.Seconds())%60
		if s == 0 {
			return fmt.Sprintf("%dm", m)
		}
		return fmt.Sprintf("%dm%ds", m, s)
	case d < 48*time.Hour:
		h, m := int(d.Hours()), int(d.Minutes())%60
		if m == 0 {
			return fmt.Sprintf("%dh", h)
		}
		return fmt.Sprintf("%dh%dm", h, m)
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

func statusClass(s string) string {
	switch s {
	case "success", "delivered":
		return "ok"
	case "failure", "dead":
		return "bad"
	case "timeout":
		// A timeout is told apart from a failure at a glance: the agent
		// may have been right and slow, and its partial output is kept.
		return "slow"
	case "interrupted", "pending", "running":
		return "warn"
	}
	return "other"
}
