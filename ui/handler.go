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
	// ListLimit bounds the list; default 200.
	ListLimit int
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
		o.ListLimit = 200
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
		"ts":     func(t time.Time) string { return fmtTime(t) },
		"ago":    func(t time.Time) string { return ago(o.Now(), t) },
		"dur":    fmtDuration,
		"path":   func(p string) string { return o.BasePath + p },
		"class":  statusClass,
		"budget": func() string { return h.budgetLine() },
		"filter": func(cluster, status, since string) string {
			return filterURL(o.BasePath, cluster, status, since)
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
	Total     int
	Limited   bool
	Clusters  []string
	Statuses  []string
	Sinces    []sinceChoice
}

type filterView struct {
	Cluster, Status, Since string
}

type statusCount struct {
	Status string
	N      int
}

type sinceChoice struct{ Value, Label string }

var sinces = []sinceChoice{{"", "any time"}, {"1h", "last hour"}, {"24h", "last 24 h"}, {"168h", "last 7 days"}, {"720h", "last 30 days"}}

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

func (h *handler) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	fv := filterView{Cluster: strings.TrimSpace(q.Get("cluster")), Status: q.Get("status"), Since: q.Get("since")}
	f := Filter{Cluster: fv.Cluster, Status: fv.Status, Limit: h.o.ListLimit}
	if len(f.Cluster) > 253 {
		http.Error(w, "cluster: too long", http.StatusBadRequest)
		return
	}
	if f.Status != "" && !slices.Contains(Statuses, f.Status) {
		http.Error(w, "status: want one of "+strings.Join(Statuses, ", "), http.StatusBadRequest)
		return
	}
	since, err := parseSince(fv.Since, h.o.Now())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.Since = since
	incs, err := h.o.Store.List(r.Context(), f)
	if err != nil {
		h.fail(w, r, "list incidents", err)
		return
	}
	counts := map[string]int{}
	for _, in := range incs {
		counts[in.Status]++
	}
	page := listPage{
		Title: h.o.Title, Filter: fv, Incidents: incs, Total: len(incs), Limited: len(incs) >= f.Limit,
		Clusters: h.o.Clusters, Statuses: Statuses, Sinces: sinces,
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

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "–"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
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

// filterURL is the list page with these filters.
func filterURL(base, cluster, status, since string) string {
	v := url.Values{}
	for k, s := range map[string]string{"cluster": cluster, "status": status, "since": since} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if len(v) == 0 {
		return base + "/incidents"
	}
	return base + "/incidents?" + v.Encode()
}
