package alertmanager_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/testlog"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/services/alertmanager"
)

const (
	token   = "recorded-token"
	podA    = "api-7d9c8b6f5-x2k4q"
	podB    = "api-7d9c8b6f5-m8zvd"
	fpA     = "0866ef62ddef96d5"
	startsA = "2026-11-27T00:11:14.077Z"
)

func recorded(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// endpoint is the handler behind a real HTTP server, with its submitter,
// counters and log.
type endpoint struct {
	url  string
	sub  *submitter
	m    *counters
	logs *testlog.Buffer
}

func secretFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// start serves a handler for cluster prod with a bearer token, after
// change adjusts the options.
func start(t *testing.T, change func(*alertmanager.Options)) *endpoint {
	t.Helper()
	e := &endpoint{sub: newSubmitter(), m: newCounters(), logs: &testlog.Buffer{}}
	o := alertmanager.Options{
		Auth:      alertmanager.Auth{BearerTokenFile: secretFile(t, "token", token+"\n")},
		Mapping:   alertmanager.DefaultMapping(),
		Clusters:  []string{"prod"},
		Submitter: e.sub,
		Metrics:   e.m,
		Logger:    slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if change != nil {
		change(&o)
	}
	h, err := alertmanager.NewHandler(o)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	e.url = srv.URL + alertmanager.Path
	return e
}

type reply struct {
	code   int
	header http.Header
	body   string
}

// post sends body as Alertmanager does, after edit adjusts the request.
func (e *endpoint) post(t *testing.T, body []byte, edit func(*http.Request)) reply {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Alertmanager/0.25.0")
	req.Header.Set("Authorization", "Bearer "+token)
	if edit != nil {
		edit(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, resp.Header, string(b)}
}

func (e *endpoint) mustAccept(t *testing.T, body []byte) {
	t.Helper()
	if r := e.post(t, body, nil); r.code != http.StatusOK {
		t.Fatalf("answered %d %s, want 200", r.code, r.body)
	}
}

var hex16 = regexp.MustCompile(`^[0-9a-f]{16}$`)

func TestFiringAlertBecomesQueuedFault(t *testing.T) {
	e := start(t, nil)
	r := e.post(t, recorded(t, "firing"), nil)
	if r.code != http.StatusOK || !strings.Contains(r.body, `"queued":1`) {
		t.Fatalf("answered %d %s", r.code, r.body)
	}
	got := e.sub.submitted()
	if len(got) != 1 {
		t.Fatalf("submitted %d faults, want 1", len(got))
	}
	f := got[0]
	want := fault.Resource{APIVersion: "v1", Kind: "Pod", Name: podA, Namespace: "shop"}
	if f.Cluster != "prod" || f.Source != "alertmanager" || f.FaultType != "KubePodCrashLooping" ||
		f.Severity != "warning" || f.Resource != want || f.Status != "firing" || f.Fingerprint != fpA ||
		!hex16.MatchString(f.FaultID) || f.Timestamp.Format(time.RFC3339Nano) != startsA {
		t.Errorf("fault %+v", f)
	}
	var ctx struct {
		Summary, Description string
		Labels               map[string]string
		GeneratorURL         string
	}
	if err := json.Unmarshal(f.Context, &ctx); err != nil {
		t.Fatalf("context %s: %v", f.Context, err)
	}
	if ctx.Summary != "Pod is crash looping." || !strings.Contains(ctx.Description, podA) ||
		ctx.Labels["job"] != "kube-state-metrics" || !strings.HasPrefix(ctx.GeneratorURL, "http://prometheus.example:9090/") {
		t.Errorf("context %s", f.Context)
	}
	if e.m.notification(alertmanager.Accepted) != 1 || e.m.get("received/prod/warning") != 1 || e.m.outcome("prod", "queued") != 1 {
		t.Errorf("counted %v", e.m)
	}
}

func TestRepeatedNotificationIsDuplicate(t *testing.T) {
	e := start(t, nil)
	e.mustAccept(t, recorded(t, "firing"))
	r := e.post(t, recorded(t, "repeated"), nil)
	if r.code != http.StatusOK || !strings.Contains(r.body, `"duplicate":1`) {
		t.Fatalf("repeat answered %d %s, want 200 with one duplicate", r.code, r.body)
	}
	got := e.sub.submitted()
	if len(got) != 2 || got[0].FaultID != got[1].FaultID {
		t.Fatalf("submitted %+v: a repeat must carry the same fault id", got)
	}
	if e.m.outcome("prod", "queued") != 1 || e.m.outcome("prod", "duplicate") != 1 {
		t.Errorf("counted %v", e.m)
	}
}

func TestGroupedNotificationGivesOneFaultPerAlert(t *testing.T) {
	e := start(t, nil)
	e.mustAccept(t, recorded(t, "firing"))
	e.mustAccept(t, recorded(t, "grouped"))
	got := e.sub.submitted()
	if len(got) != 3 {
		t.Fatalf("submitted %d faults, want 1 then 2", len(got))
	}
	first, grouped := got[0], got[1:]
	ids := map[string]string{}
	for _, f := range grouped {
		ids[f.Resource.Name] = f.FaultID
	}
	if ids[podA] != first.FaultID || ids[podB] == "" || ids[podB] == ids[podA] {
		t.Errorf("grouped ids %v, first %s", ids, first.FaultID)
	}
	if e.m.outcome("prod", "queued") != 2 || e.m.outcome("prod", "duplicate") != 1 || e.m.get("received/prod/warning") != 3 {
		t.Errorf("counted %v", e.m)
	}
}

func TestResolvedAlertRemovesQueuedFault(t *testing.T) {
	e := start(t, nil)
	e.mustAccept(t, recorded(t, "grouped"))
	e.mustAccept(t, recorded(t, "partly-resolved"))
	var idA string
	for _, f := range e.sub.submitted() {
		if f.Resource.Name == podA {
			idA = f.FaultID
		}
	}
	if res := e.sub.resolved(); len(res) != 1 || res[0] != "prod/"+idA {
		t.Fatalf("resolved %v, want prod/%s", res, idA)
	}
	if e.m.outcome("prod", alertmanager.ResolvedRemoved) != 1 || e.m.outcome("prod", "duplicate") != 1 {
		t.Errorf("counted %v", e.m)
	}
	if !strings.Contains(e.logs.String(), "removed it from the queue") || !strings.Contains(e.logs.String(), idA) {
		t.Errorf("no log line for the removal:\n%s", e.logs)
	}
}

func TestResolvedAlertLetsRunningAgentFinish(t *testing.T) {
	e := start(t, nil)
	e.mustAccept(t, recorded(t, "grouped"))
	var idB string
	for _, f := range e.sub.submitted() {
		if f.Resource.Name == podB {
			idB = f.FaultID
		}
	}
	e.sub.start("prod", idB)
	e.mustAccept(t, recorded(t, "resolved"))
	if e.m.outcome("prod", alertmanager.ResolvedRunning) != 1 || e.m.outcome("prod", alertmanager.ResolvedRemoved) != 0 {
		t.Errorf("counted %v", e.m)
	}
	if !strings.Contains(e.logs.String(), "letting the agent finish") {
		t.Errorf("no log line for the running agent:\n%s", e.logs)
	}
}

func TestResolvedAlertWithNothingHeld(t *testing.T) {
	e := start(t, nil)
	e.mustAccept(t, recorded(t, "resolved"))
	if len(e.sub.resolved()) != 1 || e.m.outcome("prod", alertmanager.ResolvedIdle) != 1 {
		t.Errorf("resolved %v, counted %v", e.sub.resolved(), e.m)
	}
}

func TestRefiredAlertIsNewIncident(t *testing.T) {
	e := start(t, nil)
	e.mustAccept(t, recorded(t, "firing"))
	e.mustAccept(t, recorded(t, "partly-resolved"))
	r := e.post(t, recorded(t, "refired"), nil)
	if r.code != http.StatusOK || !strings.Contains(r.body, `"queued":1`) {
		t.Fatalf("re-fire answered %d %s, want a queued fault", r.code, r.body)
	}
	got := e.sub.submitted()
	last := got[len(got)-1]
	if last.Fingerprint != fpA || last.FaultID == got[0].FaultID {
		t.Errorf("re-fired fault %+v, first id %s", last, got[0].FaultID)
	}
}

func TestUnknownClusterIsRefusedAndCounted(t *testing.T) {
	e := start(t, func(o *alertmanager.Options) {
		o.Clusters = []string{"staging"}
		// A default cluster does not override a label naming another one.
		o.Mapping.DefaultCluster = "staging"
	})
	r := e.post(t, recorded(t, "grouped"), nil)
	if r.code != http.StatusOK || !strings.Contains(r.body, `"unknown_cluster":2`) {
		t.Fatalf("answered %d %s, want 200 with two unknown_cluster", r.code, r.body)
	}
	if len(e.sub.submitted()) != 0 {
		t.Errorf("submitted %+v", e.sub.submitted())
	}
	if e.m.outcome("", alertmanager.UnknownCluster) != 2 {
		t.Errorf("counted %v", e.m)
	}
	if !strings.Contains(e.logs.String(), "not configured") || !strings.Contains(e.logs.String(), `"cluster":"prod"`) {
		t.Errorf("no log line naming the cluster:\n%s", e.logs)
	}
}

func TestAlertWithoutClusterLabelUsesDefaultCluster(t *testing.T) {
	body := bytes.ReplaceAll(recorded(t, "firing"), []byte(`"cluster":"prod",`), nil)
	for _, tc := range []struct {
		def, outcome string
	}{{"prod", "queued"}, {"", string(alertmanager.UnknownCluster)}} {
		e := start(t, func(o *alertmanager.Options) { o.Mapping.DefaultCluster = tc.def })
		r := e.post(t, body, nil)
		if r.code != http.StatusOK || !strings.Contains(r.body, `"`+tc.outcome+`":1`) {
			t.Errorf("default cluster %q: answered %d %s, want %s", tc.def, r.code, r.body, tc.outcome)
		}
	}
}

func TestBadCredentialsAreRefused(t *testing.T) {
	body := recorded(t, "firing")
	bearer := start(t, nil)
	basic := start(t, func(o *alertmanager.Options) {
		o.Auth = alertmanager.Auth{BasicAuthUsername: "am", BasicAuthPasswordFile: secretFile(t, "pw", "pa55\n")}
	})
	for _, tc := range []struct {
		name      string
		e         *endpoint
		authz     func(*http.Request)
		challenge string
	}{
		{"bearer missing", bearer, func(r *http.Request) { r.Header.Del("Authorization") }, "Bearer"},
		{"bearer wrong", bearer, func(r *http.Request) { r.Header.Set("Authorization", "Bearer recorded-tokeN") }, "Bearer"},
		{"bearer prefix", bearer, func(r *http.Request) { r.Header.Set("Authorization", "Bearer recorded") }, "Bearer"},
		{"basic to bearer", bearer, func(r *http.Request) { r.SetBasicAuth("recorded-token", "recorded-token") }, "Bearer"},
		{"basic missing", basic, func(r *http.Request) { r.Header.Del("Authorization") }, "Basic"},
		{"basic wrong password", basic, func(r *http.Request) { r.SetBasicAuth("am", "pa56") }, "Basic"},
		{"basic wrong user", basic, func(r *http.Request) { r.SetBasicAuth("an", "pa55") }, "Basic"},
		{"bearer to basic", basic, func(r *http.Request) { r.Header.Set("Authorization", "Bearer pa55") }, "Basic"},
	} {
		r := tc.e.post(t, body, tc.authz)
		if r.code != http.StatusUnauthorized || !strings.HasPrefix(r.header.Get("WWW-Authenticate"), tc.challenge+` realm=`) {
			t.Errorf("%s: answered %d, WWW-Authenticate %q", tc.name, r.code, r.header.Get("WWW-Authenticate"))
		}
	}
	if n := len(bearer.sub.submitted()) + len(basic.sub.submitted()); n != 0 {
		t.Errorf("%d faults submitted without credentials", n)
	}
	if bearer.m.notification(alertmanager.ReasonUnauthorized) != 4 || basic.m.notification(alertmanager.ReasonUnauthorized) != 4 {
		t.Errorf("counted %v and %v", bearer.m, basic.m)
	}
	if r := basic.post(t, body, func(r *http.Request) { r.SetBasicAuth("am", "pa55") }); r.code != http.StatusOK {
		t.Errorf("right basic credentials answered %d %s", r.code, r.body)
	}
}

func TestOversizedBodyIs413(t *testing.T) {
	body := recorded(t, "grouped")
	e := start(t, func(o *alertmanager.Options) { o.MaxBodyBytes = int64(len(body)) - 1 })
	// With a Content-Length, and streamed without one.
	if r := e.post(t, body, nil); r.code != http.StatusRequestEntityTooLarge {
		t.Errorf("with length: answered %d %s, want 413", r.code, r.body)
	}
	r := e.post(t, nil, func(r *http.Request) {
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = -1
	})
	if r.code != http.StatusRequestEntityTooLarge {
		t.Errorf("chunked: answered %d %s, want 413", r.code, r.body)
	}
	if len(e.sub.submitted()) != 0 || e.m.notification(alertmanager.ReasonTooLarge) != 2 {
		t.Errorf("submitted %d, counted %v", len(e.sub.submitted()), e.m)
	}
	if r := e.post(t, recorded(t, "firing"), nil); r.code != http.StatusOK {
		t.Errorf("body under the limit answered %d", r.code)
	}
}

func TestContentTypeIsChecked(t *testing.T) {
	e := start(t, nil)
	for _, ct := range []string{"text/plain", "", "application/x-www-form-urlencoded", "application/jsonx"} {
		if r := e.post(t, recorded(t, "firing"), func(r *http.Request) { r.Header.Set("Content-Type", ct) }); r.code != http.StatusUnsupportedMediaType {
			t.Errorf("content type %q answered %d, want 415", ct, r.code)
		}
	}
	if r := e.post(t, recorded(t, "firing"), func(r *http.Request) { r.Header.Set("Content-Type", "application/json; charset=utf-8") }); r.code != http.StatusOK {
		t.Errorf("json with charset answered %d", r.code)
	}
	if e.m.notification(alertmanager.ReasonMediaType) != 4 || len(e.sub.submitted()) != 1 {
		t.Errorf("counted %v", e.m)
	}
}

func TestOtherPayloadVersionIsRefused(t *testing.T) {
	e := start(t, nil)
	// A missing version ("versio" is ignored) is no better than a wrong
	// one; a number where a string belongs does not decode at all.
	for _, v := range []string{`"version":"5"`, `"version":"3"`, `"versio":"4"`, `"version":4`} {
		body := bytes.Replace(recorded(t, "firing"), []byte(`"version":"4"`), []byte(v), 1)
		if r := e.post(t, body, nil); r.code != http.StatusBadRequest {
			t.Errorf("%s: answered %d %s, want 400", v, r.code, r.body)
		}
	}
	if len(e.sub.submitted()) != 0 || e.m.notification(alertmanager.ReasonVersion) != 3 || e.m.notification(alertmanager.ReasonMalformed) != 1 {
		t.Errorf("submitted %d, counted %v", len(e.sub.submitted()), e.m)
	}
}

func TestMalformedBodyIs400(t *testing.T) {
	e := start(t, nil)
	firing := recorded(t, "firing")
	for name, body := range map[string][]byte{
		"not json":      []byte("alert!"),
		"truncated":     firing[:len(firing)/2],
		"array":         []byte(`[` + string(firing) + `]`),
		"two objects":   append(append([]byte{}, firing...), firing...),
		"bad startsAt":  bytes.Replace(firing, []byte(`"startsAt":"`+startsA+`"`), []byte(`"startsAt":"yesterday"`), 1),
		"alerts object": bytes.Replace(firing, []byte(`"alerts":[`), []byte(`"alerts":{"a":`), 1),
	} {
		if r := e.post(t, body, nil); r.code != http.StatusBadRequest {
			t.Errorf("%s: answered %d %s, want 400", name, r.code, r.body)
		}
	}
	if len(e.sub.submitted()) != 0 || e.m.notification(alertmanager.ReasonMalformed) != 6 {
		t.Errorf("counted %v", e.m)
	}
}

func TestMalformedAlertIsCountedAndRestAccepted(t *testing.T) {
	e := start(t, nil)
	body := bytes.Replace(recorded(t, "grouped"), []byte(`"alertname":"KubePodCrashLooping",`), nil, 1)
	r := e.post(t, body, nil)
	if r.code != http.StatusOK || !strings.Contains(r.body, `"malformed":1`) || !strings.Contains(r.body, `"queued":1`) {
		t.Fatalf("answered %d %s", r.code, r.body)
	}
	if e.m.outcome("", alertmanager.Malformed) != 1 {
		t.Errorf("counted %v", e.m)
	}
}

func TestMethodAndPath(t *testing.T) {
	e := start(t, nil)
	r := e.post(t, recorded(t, "firing"), func(r *http.Request) { r.Method = http.MethodGet })
	if r.code != http.StatusMethodNotAllowed || r.header.Get("Allow") != "POST" {
		t.Errorf("GET answered %d, Allow %q", r.code, r.header.Get("Allow"))
	}
	r = e.post(t, recorded(t, "firing"), func(r *http.Request) { r.URL.Path = "/" })
	if r.code != http.StatusNotFound {
		t.Errorf("POST / answered %d", r.code)
	}
	if len(e.sub.submitted()) != 0 || e.m.notification(alertmanager.ReasonMethod) != 1 || e.m.notification(alertmanager.ReasonNotFound) != 1 {
		t.Errorf("counted %v", e.m)
	}
}

// TestStoreFailureIs503ThenRetryQueuesOnce: while the store cannot take
// the faults the endpoint answers 503 and counts no alert; Alertmanager's
// retry of the same notification then queues each fault once.
func TestStoreFailureIs503ThenRetryQueuesOnce(t *testing.T) {
	e := start(t, nil)
	e.sub.setFailing(true)
	for _, name := range []string{"grouped", "resolved"} {
		if r := e.post(t, recorded(t, name), nil); r.code != http.StatusServiceUnavailable {
			t.Errorf("%s with the store failing: answered %d %s, want 503", name, r.code, r.body)
		}
	}
	if e.m.notification(alertmanager.ReasonStoreUnavailable) != 2 || e.m.get("received/prod/warning") != 0 {
		t.Errorf("counted %v", e.m)
	}
	e.sub.setFailing(false)
	e.mustAccept(t, recorded(t, "grouped"))
	e.mustAccept(t, recorded(t, "grouped"))
	if e.m.outcome("prod", "queued") != 2 || e.m.outcome("prod", "duplicate") != 2 {
		t.Errorf("counted %v", e.m)
	}
}

// shortSubmitter returns fewer outcomes than faults: a wiring bug that
// must not be answered 2xx.
type shortSubmitter struct{ *submitter }

func (shortSubmitter) Submit(context.Context, []alertmanager.Fault) ([]alertmanager.Outcome, error) {
	return []alertmanager.Outcome{"queued"}, nil
}

func TestSubmitterOutcomeMismatchIs503(t *testing.T) {
	e := start(t, func(o *alertmanager.Options) { o.Submitter = shortSubmitter{newSubmitter()} })
	if r := e.post(t, recorded(t, "grouped"), nil); r.code != http.StatusServiceUnavailable {
		t.Errorf("answered %d %s", r.code, r.body)
	}
}

func TestNewHandlerRefusesBadOptions(t *testing.T) {
	sub := newSubmitter()
	logger := slog.New(slog.DiscardHandler)
	tok := secretFile(t, "token", "t")
	for name, o := range map[string]alertmanager.Options{
		"no auth":            {Mapping: alertmanager.DefaultMapping(), Submitter: sub, Logger: logger},
		"empty token file":   {Auth: alertmanager.Auth{BearerTokenFile: secretFile(t, "empty", " \n")}, Mapping: alertmanager.DefaultMapping(), Submitter: sub, Logger: logger},
		"missing token file": {Auth: alertmanager.Auth{BearerTokenFile: filepath.Join(t.TempDir(), "none")}, Mapping: alertmanager.DefaultMapping(), Submitter: sub, Logger: logger},
		"basic without file": {Auth: alertmanager.Auth{BasicAuthUsername: "am"}, Mapping: alertmanager.DefaultMapping(), Submitter: sub, Logger: logger},
		"no submitter":       {Auth: alertmanager.Auth{BearerTokenFile: tok}, Mapping: alertmanager.DefaultMapping(), Logger: logger},
		"zero mapping":       {Auth: alertmanager.Auth{BearerTokenFile: tok}, Submitter: sub, Logger: logger},
		"default cluster not configured": {Auth: alertmanager.Auth{BearerTokenFile: tok}, Submitter: sub, Logger: logger,
			Mapping: func() alertmanager.Mapping { m := alertmanager.DefaultMapping(); m.DefaultCluster = "x"; return m }(), Clusters: []string{"prod"}},
	} {
		if _, err := alertmanager.NewHandler(o); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestServiceServesUntilCancelled runs the suture service on a real
// listener.
func TestServiceServesUntilCancelled(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	defer http.DefaultClient.CloseIdleConnections()
	sub := newSubmitter()
	s, err := alertmanager.New(alertmanager.Options{
		Address: "127.0.0.1:0", Auth: alertmanager.Auth{BearerTokenFile: secretFile(t, "token", token)},
		Mapping: alertmanager.DefaultMapping(), Clusters: []string{"prod"}, Submitter: sub,
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	if s.String() != "alertmanager-intake" {
		t.Errorf("String() = %q", s.String())
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	<-s.Listening()
	e := &endpoint{url: "http://" + s.Addr() + alertmanager.Path}
	e.mustAccept(t, recorded(t, "firing"))
	cancel()
	if err := <-done; err != context.Canceled {
		t.Errorf("Serve returned %v, want context.Canceled", err)
	}
	if len(sub.submitted()) != 1 {
		t.Errorf("submitted %d", len(sub.submitted()))
	}
	if _, err := alertmanager.New(alertmanager.Options{}); err == nil {
		t.Error("New without an address: no error")
	}
}

func TestTruncatedAlertsAreCounted(t *testing.T) {
	e := start(t, nil)
	for _, tc := range []struct {
		n, want int
	}{{3, 3}, {1 << 40, 1 << 16}} {
		body := bytes.Replace(recorded(t, "firing"), []byte(`"truncatedAlerts":0`), []byte(fmt.Sprintf(`"truncatedAlerts":%d`, tc.n)), 1)
		r := e.post(t, body, nil)
		if r.code != http.StatusOK || !strings.Contains(r.body, fmt.Sprintf(`"truncated":%d`, tc.want)) {
			t.Errorf("%d truncated: answered %d %s", tc.n, r.code, r.body)
		}
	}
	if e.m.outcome("", alertmanager.Truncated) != 3+1<<16 || !strings.Contains(e.logs.String(), "max_alerts") {
		t.Errorf("counted %d truncated", e.m.outcome("", alertmanager.Truncated))
	}
}
