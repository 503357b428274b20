package ui

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// manyStore holds n incidents, newest first, spread over clusters,
// severities, fault types and namespaces.
func manyStore(n int) *fakeStore {
	st := &fakeStore{}
	sev := []string{"critical", "warning", "info"}
	types := []string{"CrashLoop", "NodeUnhealthy", "JobFailure"}
	for i := range n {
		ended := now.Add(-time.Duration(i+1) * time.Minute)
		st.incs = append(st.incs, Incident{Summary: Summary{
			ID: fmt.Sprintf("inc%04d-x", i), FaultID: fmt.Sprintf("fault-%04d", i), Cluster: []string{"eu", "us"}[i%2],
			FaultType: types[i%3], Severity: sev[i%3], Resource: fmt.Sprintf("Pod/ns%d/api-%d", i%4, i), Status: "success",
			EnqueuedAt: ended.Add(-50 * time.Second), StartedAt: ended.Add(-20 * time.Second), EndedAt: ended, Duration: 20 * time.Second,
		}})
	}
	return st
}

func newPageServer(t *testing.T, o Options) *httptest.Server {
	t.Helper()
	o.Now = func() time.Time { return now }
	h, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func TestListSearchesByFaultIDResourceAndNamespace(t *testing.T) {
	st := manyStore(12)
	srv := newPageServer(t, Options{Store: st})
	for _, tc := range []struct {
		q         string
		want, not []string
	}{
		{"fault-0007", []string{"inc0007-x"}, []string{"inc0006-x", "inc0008-x"}},
		{"API-11", []string{"inc0011-x"}, []string{"inc0001-x"}},                             // resource name, any case
		{"Pod/ns2/", []string{"inc0002-x", "inc0006-x", "inc0010-x"}, []string{"inc0003-x"}}, // a namespace
		{"inc0004", []string{"inc0004-x"}, []string{"inc0005-x"}},                            // the incident id too
		{"no-such-thing", nil, []string{"inc0000-x"}},
	} {
		code, _, body := get(t, srv.URL+"/incidents?q="+tc.q)
		if code != 200 {
			t.Fatalf("q=%s: %d", tc.q, code)
		}
		for _, w := range tc.want {
			if !strings.Contains(body, w) {
				t.Errorf("q=%s: lacks %s", tc.q, w)
			}
		}
		for _, n := range tc.not {
			if strings.Contains(body, ">"+n+"<") {
				t.Errorf("q=%s: shows %s", tc.q, n)
			}
		}
		if !strings.Contains(body, `value="`+tc.q+`"`) {
			t.Errorf("q=%s: the search box does not keep the query", tc.q)
		}
		if st.last.Query != tc.q {
			t.Errorf("q=%s: store asked for %q", tc.q, st.last.Query)
		}
	}
}

func TestListFiltersBySeverityAndFaultType(t *testing.T) {
	st := manyStore(9)
	srv := newPageServer(t, Options{Store: st, FaultTypes: []string{"CrashLoop", "NodeUnhealthy", "JobFailure"}})
	_, _, body := get(t, srv.URL+"/incidents?severity=warning&faultType=NodeUnhealthy")
	for _, w := range []string{"inc0001-x", "inc0004-x", "inc0007-x", `<option value="warning" selected>`, `<option value="NodeUnhealthy" selected>`} {
		if !strings.Contains(body, w) {
			t.Errorf("lacks %s", w)
		}
	}
	for _, n := range []string{"inc0000-x", "inc0002-x", "inc0003-x"} {
		if strings.Contains(body, n) {
			t.Errorf("shows %s", n)
		}
	}
	if st.last.Severity != "warning" || st.last.FaultType != "NodeUnhealthy" {
		t.Errorf("store asked %+v", st.last)
	}
	_, _, body = get(t, srv.URL+"/incidents?severity=critical&faultType=NodeUnhealthy")
	if !strings.Contains(body, "No incidents match.") {
		t.Error("critical NodeUnhealthy: want none")
	}
	for _, q := range []string{"severity=dire", "q=" + strings.Repeat("x", 300), "faultType=" + strings.Repeat("y", 200), "page=-1", "page=x", "page=100000"} {
		if code, _, _ := get(t, srv.URL+"/incidents?"+q); code != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", q, code)
		}
	}
}

func TestListShowsAbsoluteTimesAndQueueWait(t *testing.T) {
	srv := newPageServer(t, Options{Store: manyStore(1)})
	_, _, body := get(t, srv.URL+"/incidents")
	// Ended a minute before now (12:00Z); queued 30s before it started.
	for _, w := range []string{`<time class="abs mute" datetime="2026-03-04T11:59:00Z">2026-03-04T11:59:00Z</time>`, `class="wait">30s<`, "1m ago", "fault-0000"} {
		if !strings.Contains(body, w) {
			t.Errorf("lacks %s", w)
		}
	}
}

func TestListPagesThroughTheHistory(t *testing.T) {
	st := manyStore(7)
	srv := newPageServer(t, Options{Store: st, ListLimit: 3})
	var seen []string
	url := srv.URL + "/incidents?cluster=&severity="
	for page := 0; ; page++ {
		_, _, body := get(t, url)
		if st.last.Limit != 4 || st.last.Offset != page*3 {
			t.Fatalf("page %d: store asked offset %d limit %d, want %d and 4 (a page and one to see a next)", page, st.last.Offset, st.last.Limit, page*3)
		}
		for i := range 7 {
			if id := fmt.Sprintf("inc%04d-x", i); strings.Contains(body, ">"+id+"<") {
				seen = append(seen, id)
			}
		}
		i := strings.Index(body, `id="older" href="`)
		if i < 0 {
			if page != 2 {
				t.Fatalf("no older link on page %d", page)
			}
			if !strings.Contains(body, `id="newer" href="/incidents?page=1"`) {
				t.Error("last page: no link back to the newer page")
			}
			break
		}
		rest := body[i+len(`id="older" href="`):]
		url = srv.URL + strings.ReplaceAll(rest[:strings.IndexByte(rest, '"')], "&amp;", "&")
	}
	if fmt.Sprint(seen) != "[inc0000-x inc0001-x inc0002-x inc0003-x inc0004-x inc0005-x inc0006-x]" {
		t.Errorf("pages showed %v, want each incident once, newest first", seen)
	}
}

func TestListRefreshesUntilPaused(t *testing.T) {
	srv := newPageServer(t, Options{Store: manyStore(2), Refresh: 15 * time.Second})
	_, h, body := get(t, srv.URL+"/incidents?status=success")
	if !strings.Contains(body, `<meta http-equiv="refresh" content="15">`) {
		t.Error("no meta refresh")
	}
	if !strings.Contains(body, `id="pause" href="/incidents?refresh=off&amp;status=success"`) {
		t.Error("no pause link keeping the filter")
	}
	// The refresh needs no script: the CSP still allows none.
	if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "script-src") {
		t.Errorf("CSP %q", csp)
	}
	_, _, body = get(t, srv.URL+"/incidents?refresh=off&status=success")
	if strings.Contains(body, `http-equiv="refresh"`) {
		t.Error("paused page still refreshes")
	}
	if !strings.Contains(body, `id="resume" href="/incidents?status=success"`) || !strings.Contains(body, `name="refresh" value="off"`) {
		t.Error("paused page: no resume link, or the form forgets the pause")
	}
	srv = newPageServer(t, Options{Store: manyStore(2), Refresh: -1})
	if _, _, body = get(t, srv.URL+"/incidents"); strings.Contains(body, `http-equiv="refresh"`) || strings.Contains(body, `id="pause"`) {
		t.Error("refresh turned off still refreshes")
	}
}

func TestClustersView(t *testing.T) {
	last := now.Add(-5 * time.Minute)
	srv := newPageServer(t, Options{Store: manyStore(1), ClusterStatus: func(context.Context) ([]ClusterStatus, error) {
		return []ClusterStatus{
			{Name: "prod-eu", Connected: true, LastFault: last, LastIncident: "inc0000-x", LastFaultType: "CrashLoop", QueueDepth: 3},
			{Name: "prod-us", BlindSince: now.Add(-90 * time.Second)},
		}, nil
	}})
	code, _, body := get(t, srv.URL+"/clusters")
	if code != 200 {
		t.Fatalf("/clusters: %d", code)
	}
	for _, w := range []string{
		`href="/incidents?cluster=prod-eu">prod-eu</a>`, `<span class="badge ok">connected</span>`, "2026-03-04T11:55:00Z", "5m ago",
		`href="/incidents/inc0000-x"`, `data-label="Queued">3<`,
		`<span class="badge bad">blind</span> <span class="mute">since <time datetime="2026-03-04T11:58:30Z">`, "(1m30s ago)", "1 blind", "none recent",
	} {
		if !strings.Contains(body, w) {
			t.Errorf("lacks %s", w)
		}
	}
	if _, _, list := get(t, srv.URL+"/incidents"); !strings.Contains(list, `href="/clusters">Clusters</a>`) {
		t.Error("the list does not link the clusters view")
	}
	srv = newPageServer(t, Options{Store: manyStore(1)})
	if code, _, _ := get(t, srv.URL+"/clusters"); code != http.StatusNotFound {
		t.Errorf("/clusters without a source: %d, want 404", code)
	}
}

// fileStore serves fixed workspace files and records what it was asked.
type fileStore struct {
	mu    sync.Mutex
	files map[string][]byte
	asked []string
}

func (f *fileStore) File(_ context.Context, id, name string, limit int64) ([]byte, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, id+"/"+name)
	b, ok := f.files[id+"/"+name]
	if !ok {
		return nil, false, fmt.Errorf("%s: %w", name, ErrNotFound)
	}
	if int64(len(b)) > limit {
		return b[:limit], true, nil
	}
	return b, false, nil
}

func TestFileLinks(t *testing.T) {
	id := "a1b2c3d4e5f60718-mx1abc"
	big := []byte(strings.Repeat("x", FileLimit+10))
	fs := &fileStore{files: map[string][]byte{
		id + "/event.json": []byte(`{"incidentId":"` + id + `"}`),
		id + "/report":     []byte("<script>window.__pwned=1</script># report"),
		id + "/agent.log":  big,
	}}
	srv := newPageServer(t, Options{Store: sampleStore(), Files: fs})
	_, _, page := get(t, srv.URL+"/incidents/"+id)
	for _, name := range Files {
		if !strings.Contains(page, `href="/incidents/`+id+`/files/`+name+`"`) {
			t.Errorf("incident page lacks a link to %s", name)
		}
	}
	code, h, body := get(t, srv.URL+"/incidents/"+id+"/files/event.json")
	if code != 200 || h.Get("Content-Type") != "application/json" || body != `{"incidentId":"`+id+`"}` {
		t.Errorf("event.json: %d %q %q", code, h.Get("Content-Type"), body)
	}
	code, h, body = get(t, srv.URL+"/incidents/"+id+"/files/report")
	if code != 200 || h.Get("Content-Type") != "text/plain; charset=utf-8" || h.Get("X-Content-Type-Options") != "nosniff" ||
		!strings.Contains(h.Get("Content-Security-Policy"), "sandbox") || !strings.HasPrefix(body, "<script>") {
		t.Errorf("report: %d %v %q: want it as plain text, unsniffed, sandboxed", code, h, body)
	}
	code, h, body = get(t, srv.URL+"/incidents/"+id+"/files/agent.log")
	if code != 200 || len(body) != FileLimit || h.Get("X-Truncated") != "true" {
		t.Errorf("agent.log: %d, %d bytes, truncated %q: want %d bytes and the mark", code, len(body), h.Get("X-Truncated"), FileLimit)
	}
	if code, _, _ := get(t, srv.URL+"/incidents/"+id+"/files/result.json"); code != http.StatusNotFound {
		t.Errorf("missing result.json: %d, want 404", code)
	}
	before := len(fs.asked)
	for _, path := range []string{
		"/incidents/" + id + "/files/usage.json", "/incidents/" + id + "/files/..%2f..%2fetc%2fpasswd",
		"/incidents/..%2f..%2fetc/files/event.json", "/incidents/" + id + "/files/.%2e", "/incidents/a.b/files/event.json",
	} {
		if code, _, _ := get(t, srv.URL+path); code != http.StatusNotFound && code != http.StatusMovedPermanently {
			t.Errorf("%s: %d, want 404", path, code)
		}
	}
	if len(fs.asked) != before {
		t.Errorf("the store was asked for %v: names and ids out of bounds must not reach it", fs.asked[before:])
	}
	srv = newPageServer(t, Options{Store: sampleStore()})
	if _, _, page := get(t, srv.URL+"/incidents/"+id); strings.Contains(page, "/files/") {
		t.Error("links to files that are not served")
	}
}
