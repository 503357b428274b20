package ui

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func newServer(t *testing.T, s Store) *httptest.Server {
	t.Helper()
	h, err := New(Options{Store: s, Title: "runner-1 incidents", Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, url string) (int, http.Header, string) {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func TestListShowsIncidentsAndSummary(t *testing.T) {
	srv := newServer(t, sampleStore())
	for _, path := range []string{"/", "/incidents"} {
		code, h, body := get(t, srv.URL+path)
		if code != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/html") {
			t.Fatalf("%s: %d %s", path, code, h.Get("Content-Type"))
		}
		for _, want := range []string{
			"a1b2c3d4e5f60718-mx1abc", "b2c3d4e5f6071829-mx1abd", "c3d4e5f607182930-mx1abe", "d4e5f60718293041-mx1abf",
			`href="/incidents/a1b2c3d4e5f60718-mx1abc"`, "<strong>4</strong> shown", "success 1", "failure 2", "timeout 1",
			"3m ago", "2h ago", "26h ago", "10d ago", "1m20s", `name="viewport"`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("%s lacks %q", path, want)
			}
		}
		if !strings.Contains(h.Get("Content-Security-Policy"), "default-src 'none'") || h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("security headers: %v", h)
		}
	}
}

func TestListFilters(t *testing.T) {
	st := sampleStore()
	srv := newServer(t, st)
	for _, tc := range []struct {
		query      string
		want, not  []string
		summary    string
		wantFilter Filter
	}{
		{"cluster=prod-eu", []string{"a1b2c3d4e5f60718", "d4e5f60718293041"}, []string{"b2c3d4e5f6071829", "c3d4e5f607182930"}, "<strong>2</strong> shown", Filter{Cluster: "prod-eu", Limit: 51}},
		{"status=failure", []string{"b2c3d4e5f6071829", "d4e5f60718293041"}, []string{"a1b2c3d4e5f60718", "c3d4e5f607182930"}, "failure 2", Filter{Status: "failure", Limit: 51}},
		{"since=24h", []string{"a1b2c3d4e5f60718", "b2c3d4e5f6071829"}, []string{"c3d4e5f607182930", "d4e5f60718293041"}, "<strong>2</strong> shown", Filter{Since: now.Add(-24 * time.Hour), Limit: 51}},
		{"cluster=prod-eu&status=failure&since=2026-02-01", []string{"d4e5f60718293041"}, []string{"a1b2c3d4e5f60718"}, "failure 1", Filter{Cluster: "prod-eu", Status: "failure", Since: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), Limit: 51}},
		{"cluster=nowhere", nil, []string{"a1b2c3d4e5f60718"}, "No incidents match.", Filter{Cluster: "nowhere", Limit: 51}},
	} {
		code, _, body := get(t, srv.URL+"/incidents?"+tc.query)
		if code != 200 {
			t.Fatalf("%s: %d", tc.query, code)
		}
		for _, w := range tc.want {
			if !strings.Contains(body, w) {
				t.Errorf("%s: lacks %s", tc.query, w)
			}
		}
		for _, n := range tc.not {
			if strings.Contains(body, n) {
				t.Errorf("%s: shows %s", tc.query, n)
			}
		}
		if !strings.Contains(body, tc.summary) {
			t.Errorf("%s: lacks summary %q", tc.query, tc.summary)
		}
		if st.last != tc.wantFilter {
			t.Errorf("%s: store asked %+v, want %+v", tc.query, st.last, tc.wantFilter)
		}
	}
	for _, q := range []string{"status=exploded", "since=yesterday", "cluster=" + strings.Repeat("x", 300)} {
		if code, _, _ := get(t, srv.URL+"/incidents?"+q); code != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", q, code)
		}
	}
}

func TestIncidentPage(t *testing.T) {
	srv := newServer(t, sampleStore())
	code, _, body := get(t, srv.URL+"/incidents/a1b2c3d4e5f60718-mx1abc")
	if code != 200 {
		t.Fatalf("%d", code)
	}
	for _, want := range []string{
		"<h1>CrashLoop in payments/api: bad DATABASE_URL</h1>", // the report, rendered
		"<strong>api</strong>",
		"<td>fails</td>", // the table extension
		`<code class="language-sh">kubectl -n payments rollout undo deploy/api`,
		`<a href="https://kubernetes.io/docs/" rel="nofollow noreferrer noopener" target="_blank">docs</a>`,
		"Restore the secret and roll the deployment.",
		"&#34;faultType&#34;: &#34;CrashLoop&#34;",      // the event, indented and escaped
		"&lt;script&gt;window.__pwned=1&lt;/script&gt;", // the log tail, escaped
		"oncall-slack", "delivered", "audit-webhook", "receiver answered 503 Service Unavailable", "old-hook", "permanent",
		"runner restarted", // the first run
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	report := body[strings.Index(body, `<article class="report">`):strings.Index(body, "</article>")]
	for _, bad := range []string{"<script", "onerror", "onclick", "javascript:", "JaVaScRiPt", "<iframe", "<form", "<input name", "<img", "style="} {
		if strings.Contains(strings.ToLower(report), strings.ToLower(bad)) {
			t.Errorf("report keeps %q:\n%s", bad, report)
		}
	}
}

func TestSanitiserStripsActiveContent(t *testing.T) {
	r := NewRenderer()
	for in, forbidden := range map[string]string{
		"<script>alert(1)</script>":                                        "<script",
		"<img src=x onerror=alert(1)>":                                     "onerror",
		"<a href=\"javascript:alert(1)\">x</a>":                            "javascript:",
		"[x](javascript:alert(1))":                                         "javascript:",
		"[x](  JAVASCRIPT:alert(1))":                                       "javascript",
		"<a href=\"data:text/html,<script>x</script>\">x</a>":              "data:",
		"<svg onload=alert(1)></svg>":                                      "onload",
		"<div style=\"background:url(javascript:x)\">y</div>":              "style",
		"<p onmouseover=\"x()\">y</p>":                                     "onmouseover",
		"<object data=\"x.swf\"></object>":                                 "<object",
		"<meta http-equiv=refresh content=\"0;url=https://evil.example\">": "<meta",
		"<base href=\"https://evil.example/\">":                            "<base",
		"<style>body{display:none}</style>":                                "<style",
	} {
		out := strings.ToLower(string(r.Render([]byte(in))))
		if strings.Contains(out, strings.ToLower(forbidden)) {
			t.Errorf("%q rendered as %q, keeps %q", in, out, forbidden)
		}
	}
	// Structure survives.
	out := string(r.Render([]byte("## Root cause\n\n- one\n- two\n\n> quoted\n")))
	for _, want := range []string{"<h2>Root cause</h2>", "<li>one</li>", "<blockquote>"} {
		if !strings.Contains(out, want) {
			t.Errorf("lost %q: %s", want, out)
		}
	}
}

func TestUnknownAndInvalidIDs(t *testing.T) {
	st := sampleStore()
	srv := newServer(t, st)
	if code, _, _ := get(t, srv.URL+"/incidents/ffffffffffffffff-zzzz"); code != http.StatusNotFound {
		t.Errorf("unknown id: %d, want 404", code)
	}
	for _, p := range []string{
		"/incidents/..%2F..%2Fetc%2Fpasswd",
		"/incidents/%2e%2e",
		"/incidents/a.b",
		"/incidents/a%00b",
		"/incidents/a%20b",
		"/incidents/" + strings.Repeat("a", 129),
		"/incidents/../../etc/passwd",
		"/incidents/a/b",
	} {
		code, _, body := get(t, srv.URL+p)
		if code == http.StatusOK {
			t.Errorf("%s: 200:\n%s", p, body)
		}
	}
	for _, id := range st.askedFor() {
		if !ValidID(id) {
			t.Errorf("store was asked for invalid id %q", id)
		}
	}
	if got := st.askedFor(); len(got) != 1 || got[0] != "ffffffffffffffff-zzzz" {
		t.Errorf("store asked for %q", got)
	}
}

func TestBasePathLinks(t *testing.T) {
	h, err := New(Options{Store: sampleStore(), BasePath: "/ui/", Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/ui/", http.StripPrefix("/ui", h))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	code, _, body := get(t, srv.URL+"/ui/incidents")
	if code != 200 || !strings.Contains(body, `href="/ui/incidents/a1b2c3d4e5f60718-mx1abc"`) || !strings.Contains(body, `action="/ui/incidents"`) {
		t.Fatalf("%d: links not under /ui:\n%s", code, body)
	}
	if code, _, _ := get(t, srv.URL+"/ui/incidents/a1b2c3d4e5f60718-mx1abc"); code != 200 {
		t.Fatalf("incident under /ui: %d", code)
	}
}

func TestAuth(t *testing.T) {
	dir := t.TempDir()
	tokenFile, basicFile := filepath.Join(dir, "token"), filepath.Join(dir, "users")
	if err := os.WriteFile(tokenFile, []byte("0123456789abcdef-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(basicFile, []byte("# people\nalice:correct horse\nbob:battery staple\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mw, err := Auth(AuthOptions{BearerTokenFile: tokenFile, BasicAuthFile: basicFile})
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(Options{Store: sampleStore(), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(mw(h))
	defer srv.Close()
	for name, tc := range map[string]struct {
		set  func(r *http.Request)
		want int
	}{
		"none":         {func(*http.Request) {}, 401},
		"token":        {func(r *http.Request) { r.Header.Set("Authorization", "Bearer 0123456789abcdef-token") }, 200},
		"wrong token":  {func(r *http.Request) { r.Header.Set("Authorization", "Bearer 0123456789abcdef-tokem") }, 401},
		"token prefix": {func(r *http.Request) { r.Header.Set("Authorization", "Bearer 0123456789abcdef") }, 401},
		"alice":        {func(r *http.Request) { r.SetBasicAuth("alice", "correct horse") }, 200},
		"bob":          {func(r *http.Request) { r.SetBasicAuth("bob", "battery staple") }, 200},
		"crossed":      {func(r *http.Request) { r.SetBasicAuth("alice", "battery staple") }, 401},
		"unknown user": {func(r *http.Request) { r.SetBasicAuth("mallory", "correct horse") }, 401},
	} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/incidents", nil)
		tc.set(req)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s: %d, want %d", name, resp.StatusCode, tc.want)
		}
		if tc.want == 401 && !regexp.MustCompile(`^Basic realm=`).MatchString(resp.Header.Get("WWW-Authenticate")) {
			t.Errorf("%s: WWW-Authenticate %q", name, resp.Header.Get("WWW-Authenticate"))
		}
	}
	if _, err := Auth(AuthOptions{}); err == nil {
		t.Error("Auth without credentials accepted")
	}
	short := filepath.Join(dir, "short")
	_ = os.WriteFile(short, []byte("abc"), 0o600)
	if _, err := Auth(AuthOptions{BearerTokenFile: short}); err == nil {
		t.Error("short token accepted")
	}
}

// Failure and timeout wear different badges.
func TestFailureAndTimeoutBadgesDiffer(t *testing.T) {
	if statusClass("failure") == statusClass("timeout") {
		t.Errorf("failure and timeout share the badge class %q", statusClass("failure"))
	}
}
