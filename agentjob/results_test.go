package agentjob

import (
	"archive/tar"
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/incident"
)

const testToken = "one-time-token"

// entry is one member of a test upload.
type entry struct {
	name     string
	typeflag byte
	body     string
	link     string
}

func archive(t *testing.T, st *Status, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if st != nil {
		status := mustJSON(t, st)
		if err := tw.WriteHeader(&tar.Header{Name: StatusFile, Mode: 0o600, Size: int64(len(status)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(tw, status); err != nil {
			t.Fatal(err)
		}
	}
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: 0o600, Typeflag: e.typeflag, Linkname: e.link}
		if e.typeflag == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(tw, e.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

type channelEnv struct {
	srv *httptest.Server
	exp *Expected
	ws  string
}

// startChannel serves a Results over real HTTP expecting one run, "run-1".
func startChannel(t *testing.T, lim Limits) channelEnv {
	t.Helper()
	r := NewResults(slog.New(slog.NewTextHandler(io.Discard, nil)))
	ws := t.TempDir()
	if lim.TotalBytes == 0 {
		lim.TotalBytes = 1 << 20
	}
	exp := r.Expect("run-1", testToken, ws, lim)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return channelEnv{srv: srv, exp: exp, ws: ws}
}

func (c channelEnv) post(t *testing.T, path, token string, body []byte) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, c.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode
}

func (c channelEnv) outcome(t *testing.T) Outcome {
	t.Helper()
	select {
	case out := <-c.exp.Done():
		return out
	default:
		t.Fatal("no outcome delivered")
		return Outcome{}
	}
}

func okStatus() *Status {
	now := time.Now().UTC().Truncate(time.Second)
	return &Status{ExitCode: 3, OutputBytes: 6, StartedAt: now.Add(-time.Minute), EndedAt: now}
}

// TestResultsRefusesWithoutTheToken: no token, a wrong one, another run's
// and an unknown run are all 401, and nothing is written or delivered.
func TestResultsRefusesWithoutTheToken(t *testing.T) {
	c := startChannel(t, Limits{})
	body := archive(t, okStatus(), entry{name: incident.LogFile, typeflag: tar.TypeReg, body: "hello\n"})
	for _, tc := range []struct{ path, token string }{
		{"/v1/runs/run-1/result", ""},
		{"/v1/runs/run-1/result", "wrong"},
		{"/v1/runs/run-1/result", testToken + "x"},
		{"/v1/runs/run-2/result", testToken},
		{"/v1/runs/run-1/start", "wrong"},
	} {
		if code := c.post(t, tc.path, tc.token, body); code != http.StatusUnauthorized {
			t.Errorf("POST %s with token %q: %d, want 401", tc.path, tc.token, code)
		}
	}
	select {
	case <-c.exp.Done():
		t.Error("a refused upload was delivered")
	case <-c.exp.Started():
		t.Error("a refused start was taken")
	default:
	}
	if _, err := os.Stat(filepath.Join(c.ws, incident.LogFile)); !os.IsNotExist(err) {
		t.Errorf("agent.log written by a refused upload: %v", err)
	}
}

// TestResultsValidUpload: start, then a result whose status, log, report
// and usage land in the workspace; a second result is 409 and changes
// nothing.
func TestResultsValidUpload(t *testing.T) {
	c := startChannel(t, Limits{LogMaxBytes: 1 << 10})
	if code := c.post(t, "/v1/runs/run-1/start", testToken, nil); code != http.StatusNoContent {
		t.Fatalf("start: %d", code)
	}
	select {
	case <-c.exp.Started():
	default:
		t.Fatal("start did not mark the run started")
	}
	st := okStatus()
	usage := `{"cost_usd": 0.25, "input_tokens": 100}`
	body := archive(t, st,
		entry{name: incident.LogFile, typeflag: tar.TypeReg, body: "hello\n"},
		entry{name: incident.OutputDir + "/", typeflag: tar.TypeDir},
		entry{name: incident.OutputDir + "/report.md", typeflag: tar.TypeReg, body: "# finding\n"},
		entry{name: incident.UsageFile, typeflag: tar.TypeReg, body: usage},
	)
	if code := c.post(t, "/v1/runs/run-1/result", testToken, body); code != http.StatusNoContent {
		t.Fatalf("result: %d", code)
	}
	out := c.outcome(t)
	if out.Err != nil || out.Status.ExitCode != 3 || !out.Status.EndedAt.Equal(st.EndedAt) {
		t.Errorf("outcome %+v, want exit 3 and the pod's times", out)
	}
	for file, want := range map[string]string{
		incident.LogFile:                  incidentLog,
		incident.OutputDir + "/report.md": "# finding\n",
		incident.UsageFile:                usage,
	} {
		got, err := os.ReadFile(filepath.Join(c.ws, file))
		if err != nil || string(got) != want {
			t.Errorf("%s = %q (%v), want %q", file, got, err, want)
		}
	}
	u, err := incident.ReadUsage(filepath.Join(c.ws, incident.UsageFile))
	if err != nil || u.CostUSD == nil || *u.CostUSD != 0.25 {
		t.Errorf("usage read back: %+v %v", u, err)
	}

	again := archive(t, okStatus(), entry{name: incident.LogFile, typeflag: tar.TypeReg, body: "second\n"})
	if code := c.post(t, "/v1/runs/run-1/result", testToken, again); code != http.StatusConflict {
		t.Errorf("second result: %d, want 409", code)
	}
	if got, _ := os.ReadFile(filepath.Join(c.ws, incident.LogFile)); string(got) != "hello\n" {
		t.Errorf("agent.log after a second result = %q", got)
	}
	select {
	case <-c.exp.Done():
		t.Error("a second outcome was delivered")
	default:
	}
}

const incidentLog = "hello\n"

// TestResultsRefusesEntries: a path outside the workspace is refused (and
// not written); links, event.json and result.json are never taken from
// the pod.
func TestResultsRefusesEntries(t *testing.T) {
	t.Run("outside the workspace", func(t *testing.T) {
		c := startChannel(t, Limits{})
		body := archive(t, okStatus(), entry{name: "../escaped", typeflag: tar.TypeReg, body: "x"})
		if code := c.post(t, "/v1/runs/run-1/result", testToken, body); code != http.StatusBadRequest {
			t.Errorf("../escaped: %d, want 400", code)
		}
		if out := c.outcome(t); out.Err == nil || !strings.Contains(out.Err.Error(), "outside the workspace") {
			t.Errorf("outcome error %v", out.Err)
		}
		if _, err := os.Stat(filepath.Join(filepath.Dir(c.ws), "escaped")); !os.IsNotExist(err) {
			t.Errorf("a file was written outside the workspace: %v", err)
		}
	})
	t.Run("absolute path", func(t *testing.T) {
		c := startChannel(t, Limits{})
		target := filepath.Join(t.TempDir(), "abs")
		body := archive(t, okStatus(), entry{name: target, typeflag: tar.TypeReg, body: "x"})
		if code := c.post(t, "/v1/runs/run-1/result", testToken, body); code != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", target, code)
		}
		if _, err := os.Stat(target); !os.IsNotExist(err) {
			t.Errorf("an absolute path was written: %v", err)
		}
	})
	t.Run("links and the runner's files", func(t *testing.T) {
		c := startChannel(t, Limits{})
		secret := filepath.Join(t.TempDir(), "secret")
		if err := os.WriteFile(secret, []byte("s3cr3t"), 0o600); err != nil {
			t.Fatal(err)
		}
		runnerEvent := `{"runner": true}`
		if err := os.WriteFile(filepath.Join(c.ws, incident.EventFile), []byte(runnerEvent), 0o600); err != nil {
			t.Fatal(err)
		}
		body := archive(t, okStatus(),
			entry{name: "link", typeflag: tar.TypeSymlink, link: secret},
			entry{name: "hard", typeflag: tar.TypeLink, link: secret},
			entry{name: incident.EventFile, typeflag: tar.TypeReg, body: `{"forged": true}`},
			entry{name: incident.ResultFile, typeflag: tar.TypeReg, body: `{"status": "success"}`},
			entry{name: incident.LogFile, typeflag: tar.TypeReg, body: incidentLog},
		)
		if code := c.post(t, "/v1/runs/run-1/result", testToken, body); code != http.StatusNoContent {
			t.Errorf("upload: %d, want 204 with the refused entries skipped", code)
		}
		for _, name := range []string{"link", "hard", incident.ResultFile} {
			if _, err := os.Lstat(filepath.Join(c.ws, name)); !os.IsNotExist(err) {
				t.Errorf("%s was written into the workspace: %v", name, err)
			}
		}
		if got, _ := os.ReadFile(filepath.Join(c.ws, incident.EventFile)); string(got) != runnerEvent {
			t.Errorf("event.json = %q, want the runner's own", got)
		}
		if got, _ := os.ReadFile(filepath.Join(c.ws, incident.LogFile)); string(got) != incidentLog {
			t.Errorf("agent.log = %q", got)
		}
	})
	t.Run("no status first", func(t *testing.T) {
		c := startChannel(t, Limits{})
		body := archive(t, nil, entry{name: incident.LogFile, typeflag: tar.TypeReg, body: incidentLog})
		if code := c.post(t, "/v1/runs/run-1/result", testToken, body); code != http.StatusBadRequest {
			t.Errorf("no status.json: %d, want 400", code)
		}
		select {
		case <-c.exp.Done():
			t.Error("an upload without its status was delivered; the entrypoint could not try again")
		default:
		}
		// The entrypoint may try again with a well-formed upload.
		if code := c.post(t, "/v1/runs/run-1/result", testToken, archive(t, okStatus())); code != http.StatusNoContent {
			t.Errorf("retry: %d, want 204", code)
		}
	})
}

// TestResultsOversized: an upload past TotalBytes is 413, keeps what fit
// and is delivered with its error; agent.log is capped at LogMaxBytes with
// the truncation reported.
func TestResultsOversized(t *testing.T) {
	t.Run("upload", func(t *testing.T) {
		c := startChannel(t, Limits{TotalBytes: 64 << 10})
		body := archive(t, okStatus(), entry{name: "output/big", typeflag: tar.TypeReg, body: strings.Repeat("x", 256<<10)})
		if code := c.post(t, "/v1/runs/run-1/result", testToken, body); code != http.StatusRequestEntityTooLarge {
			t.Errorf("oversized upload: %d, want 413", code)
		}
		out := c.outcome(t)
		if out.Err == nil {
			t.Error("the oversized upload was delivered without its error")
		}
		if fi, err := os.Stat(filepath.Join(c.ws, "output", "big")); err == nil && fi.Size() > 64<<10 {
			t.Errorf("kept %d bytes past the %d limit", fi.Size(), 64<<10)
		}
	})
	t.Run("log", func(t *testing.T) {
		c := startChannel(t, Limits{LogMaxBytes: 10})
		body := archive(t, okStatus(), entry{name: incident.LogFile, typeflag: tar.TypeReg, body: strings.Repeat("y", 100)})
		if code := c.post(t, "/v1/runs/run-1/result", testToken, body); code != http.StatusNoContent {
			t.Errorf("long log: %d, want 204", code)
		}
		if got, _ := os.ReadFile(filepath.Join(c.ws, incident.LogFile)); len(got) != 10 {
			t.Errorf("agent.log is %d bytes, want the 10-byte cap", len(got))
		}
		if out := c.outcome(t); !out.Status.OutputTruncated {
			t.Error("the capped log is not reported truncated")
		}
	})
}

// TestEntrypointArchiveRoundTrip: what the pod's entrypoint sends is what
// the runner's end accepts: the workspace minus event.json, status first.
func TestEntrypointArchiveRoundTrip(t *testing.T) {
	pod := t.TempDir()
	for name, body := range map[string]string{
		incident.EventFile: `{"pod": true}`,
		incident.LogFile:   incidentLog,
		"output/report.md": "# finding\n",
		incident.UsageFile: `{"cost_usd": 1}`,
	} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(pod, name)), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(pod, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := writeArchive(&buf, pod, *okStatus()); err != nil {
		t.Fatal(err)
	}
	ws := t.TempDir()
	st, err := receive(&buf, ws, Limits{})
	if err != nil || st.ExitCode != 3 {
		t.Fatalf("receive: %+v %v", st, err)
	}
	for _, name := range []string{incident.LogFile, "output/report.md", incident.UsageFile} {
		a, _ := os.ReadFile(filepath.Join(pod, name))
		b, err := os.ReadFile(filepath.Join(ws, name))
		if err != nil || !bytes.Equal(a, b) {
			t.Errorf("%s: %q (%v), want %q", name, b, err, a)
		}
	}
	if _, err := os.Stat(filepath.Join(ws, incident.EventFile)); !os.IsNotExist(err) {
		t.Errorf("the pod's event.json came back: %v", err)
	}
}
