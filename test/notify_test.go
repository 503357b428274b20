package test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/poll"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/notify"
)

// signingKey is the key the runner signs with and the receivers verify.
const signingKey = "0123456789abcdef0123456789abcdef"

// hookReceiver is a real HTTP webhook receiver: notify.Receiver (which
// verifies the signature and dedupes on the idempotency key) behind a
// switch that answers the first failures with a chosen status.
type hookReceiver struct {
	srv *httptest.Server

	mu       sync.Mutex
	requests []time.Time           // every POST, in order
	handled  []notify.Notification // what the receiver accepted, once per key
	fail     func(n int) (status int, header http.Header)
}

// startReceiver serves a receiver whose nth request (1-based) is answered
// by fail when it returns a non-zero status.
func startReceiver(t *testing.T, fail func(n int) (int, http.Header)) *hookReceiver {
	t.Helper()
	h := &hookReceiver{fail: fail}
	rc := &notify.Receiver{Key: []byte(signingKey), Handle: func(n notify.Notification) error {
		h.handled = append(h.handled, n) // under h.mu, held by ServeHTTP below
		return nil
	}}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.requests = append(h.requests, time.Now())
		if h.fail != nil {
			if status, hdr := h.fail(len(h.requests)); status != 0 {
				for k, v := range hdr {
					w.Header()[k] = v
				}
				w.WriteHeader(status)
				return
			}
		}
		rc.ServeHTTP(w, r)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hookReceiver) counts() (requests, handled int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.requests), len(h.handled)
}

// notifyArgs writes a notifications file of webhook sinks (name → URL),
// every incident routed to all of them, with short backoffs.
func notifyArgs(t *testing.T, dir string, sinks map[string]string, extra ...string) []string {
	t.Helper()
	key := filepath.Join(dir, "signing-key")
	if err := os.WriteFile(key, []byte(signingKey), 0o600); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("sinks:\n")
	var names []string
	for name, url := range sinks {
		fmt.Fprintf(&b, "  - name: %s\n    type: webhook\n    webhook: {url: %q, signingKeyFile: %q, timeout: 2s}\n", name, url, key)
		names = append(names, name)
	}
	fmt.Fprintf(&b, "routes:\n  - match: {kinds: [incident]}\n    sinks: [%s]\n", strings.Join(names, ", "))
	b.WriteString("delivery: {initialBackoff: 200ms, maxBackoff: 1s}\n")
	path := filepath.Join(dir, "notify.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return append([]string{"--notify-file", path, "--external-url", "https://runner.example.com"}, extra...)
}

// deliveries reads an incident's delivery rows from the runner's
// /api/incidents.
func deliveries(t *testing.T, r *runner) map[string]map[string]any {
	t.Helper()
	_, body := httpGet(r.uiURL + "/api/incidents?limit=0")
	var rows []struct {
		IncidentID string           `json:"incidentId"`
		Deliveries []map[string]any `json:"deliveries"`
	}
	if err := json.Unmarshal([]byte(body), &rows); err != nil || len(rows) != 1 {
		return nil
	}
	out := map[string]map[string]any{}
	for _, d := range rows[0].Deliveries {
		out[d["sink"].(string)] = d
	}
	return out
}

// TestBinaryNotificationSurvivesKill9: a receiver that fails five times
// then succeeds gets the notification exactly once, although the runner
// was killed with SIGKILL between failures: the outbox record and its
// attempt count were on disk, and the restarted runner carried on.
func TestBinaryNotificationSurvivesKill9(t *testing.T) {
	rcv := startReceiver(t, func(n int) (int, http.Header) {
		if n <= 5 {
			return http.StatusServiceUnavailable, nil
		}
		return 0, nil
	})
	srcs := startSources(t, "a")
	dir := t.TempDir()
	args := stateArgs(t, dir, append([]string{"--cluster", "a=" + srcs["a"].URL()},
		notifyArgs(t, dir, map[string]string{"flaky": rcv.srv.URL})...)...)

	first := startRunner(t, args...)
	poll.Until(t, 15*time.Second, "subscription", func() bool { return srcs["a"].Subscribers() == 1 })
	emit(srcs["a"], "a", 0, "ok-notify")
	poll.Until(t, 30*time.Second, "two failed deliveries", func() bool { n, _ := rcv.counts(); return n >= 2 })
	_ = first.cmd.Process.Kill()
	_ = first.wait()
	if n, handled := rcv.counts(); n >= 6 || handled != 0 {
		t.Fatalf("before the restart: %d requests, %d handled; the receiver should still be failing", n, handled)
	}

	second := startRunner(t, args...)
	poll.Until(t, 30*time.Second, "the delivery", func() bool { _, h := rcv.counts(); return h == 1 })
	poll.Until(t, 10*time.Second, "the delivered state", func() bool {
		d := deliveries(t, second)["flaky"]
		return d != nil && d["state"] == "delivered"
	})
	// Six requests reached the receiver. The kill can lose the outcome of
	// at most the one attempt it interrupted; a count that restarted from
	// zero would be at most four (the first runner made two or more).
	d := deliveries(t, second)["flaky"]
	if a, _ := d["attempts"].(float64); a < 5 || a > 6 {
		t.Errorf("delivery record %v: want 5 or 6 attempts, counted across the kill", d)
	}
	if got := second.metric("kubernetes_mcp_runner_notifications_sent_total", `sink="flaky"`); got != 1 {
		t.Errorf("notifications_sent_total{sink=flaky} = %v, want 1", got)
	}
	if got := second.metric("kubernetes_mcp_runner_notification_outbox_depth", `sink="flaky"`); got != 0 {
		t.Errorf("outbox depth after delivery = %v, want 0", got)
	}
	// A third start finds nothing pending (the depth is read from the store
	// before the pump starts): the receiver hears nothing more.
	_ = second.sigterm(t)
	third := startRunner(t, args...)
	if got := third.metric("kubernetes_mcp_runner_notification_outbox_depth", `sink="flaky"`); got != 0 {
		t.Errorf("outbox depth after a restart = %v, want 0", got)
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if len(rcv.requests) != 6 || len(rcv.handled) != 1 {
		t.Fatalf("receiver saw %d requests and handled %d notifications; want 6 and exactly 1", len(rcv.requests), len(rcv.handled))
	}
	n := rcv.handled[0]
	if n.Kind != notify.KindIncident || n.Incident.Cluster != "a" || n.Incident.Status != notify.StatusSuccess ||
		n.IdempotencyKey != notify.IncidentKey(n.Incident.ID) || n.Incident.Report.Bytes == 0 ||
		n.Incident.Links.Incident != "https://runner.example.com/incidents/"+n.Incident.ID {
		t.Errorf("delivered document: %+v", n.Incident)
	}
}

// TestBinaryRetryAfterIsHonoured: a 429 with Retry-After: 2 delays the
// next attempt by at least two seconds, far past the 200 ms backoff.
func TestBinaryRetryAfterIsHonoured(t *testing.T) {
	rcv := startReceiver(t, func(n int) (int, http.Header) {
		if n == 1 {
			return http.StatusTooManyRequests, http.Header{"Retry-After": {"2"}}
		}
		return 0, nil
	})
	srcs := startSources(t, "a")
	dir := t.TempDir()
	r := startRunner(t, stateArgs(t, dir, append([]string{"--cluster", "a=" + srcs["a"].URL()},
		notifyArgs(t, dir, map[string]string{"limited": rcv.srv.URL})...)...)...)
	poll.Until(t, 15*time.Second, "subscription", func() bool { return srcs["a"].Subscribers() == 1 })
	emit(srcs["a"], "a", 0, "ok-limited")
	poll.Until(t, 30*time.Second, "the delivery", func() bool { _, h := rcv.counts(); return h == 1 })
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if len(rcv.requests) != 2 {
		t.Fatalf("%d requests, want 2 (429, then the delivery)", len(rcv.requests))
	}
	if gap := rcv.requests[1].Sub(rcv.requests[0]); gap < 2*time.Second {
		t.Fatalf("second attempt %v after a 429 with Retry-After: 2", gap)
	}
	if got := r.metric("kubernetes_mcp_runner_notifications_failed_total", `sink="limited"`); got != 1 {
		t.Errorf("notifications_failed_total{sink=limited} = %v, want 1", got)
	}
}

// TestBinaryDeadSinkDoesNotHoldBackTheOther: a sink that refuses every
// delivery for good (410) dead-letters, logged and counted, while the
// other sink gets its notification.
func TestBinaryDeadSinkDoesNotHoldBackTheOther(t *testing.T) {
	gone := startReceiver(t, func(int) (int, http.Header) { return http.StatusGone, nil })
	good := startReceiver(t, nil)
	srcs := startSources(t, "a")
	dir := t.TempDir()
	r := startRunner(t, stateArgs(t, dir, append([]string{"--cluster", "a=" + srcs["a"].URL()},
		notifyArgs(t, dir, map[string]string{"gone": gone.srv.URL, "good": good.srv.URL})...)...)...)
	poll.Until(t, 15*time.Second, "subscription", func() bool { return srcs["a"].Subscribers() == 1 })
	for i := range 3 {
		emit(srcs["a"], "a", i, "ok-two-sinks-"+strconv.Itoa(i))
	}
	poll.Until(t, 60*time.Second, "three deliveries to the good sink", func() bool { _, h := good.counts(); return h == 3 })
	poll.Until(t, 10*time.Second, "three dead letters", func() bool {
		return r.metric("kubernetes_mcp_runner_notifications_dead_lettered_total", `sink="gone"`, `reason="permanent"`) == 3
	})
	if n, h := gone.counts(); n != 3 || h != 0 {
		t.Errorf("the refusing sink saw %d requests (%d handled), want one attempt per notification", n, h)
	}
	if got := r.metric("kubernetes_mcp_runner_notifications_sent_total", `sink="good"`); got != 3 {
		t.Errorf("notifications_sent_total{sink=good} = %v, want 3", got)
	}
	if line := lineWith(r.logs.String(), "Notification dead-lettered"); !strings.Contains(line, `"sink":"gone"`) || !strings.Contains(line, `"reason":"permanent"`) {
		t.Errorf("dead-letter log line: %q", line)
	}
	out, err := exec.Command(binary(t), "incidents", "--url", r.uiURL).CombinedOutput()
	if err != nil || strings.Count(string(out), "gone:dead(permanent) good:delivered") != 3 {
		t.Errorf("incidents --url: %v\n%s", err, out)
	}
}

// TestBinaryUnsignedDeliveryIsRejected: the receiver verifies the
// signature; a runner signing with another key is refused (401, a
// permanent failure) and nothing is handled.
func TestBinaryUnsignedDeliveryIsRejected(t *testing.T) {
	rcv := startReceiver(t, nil)
	srcs := startSources(t, "a")
	dir := t.TempDir()
	args := notifyArgs(t, dir, map[string]string{"hook": rcv.srv.URL})
	if err := os.WriteFile(filepath.Join(dir, "signing-key"), []byte("another key, not the receiver's"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := startRunner(t, stateArgs(t, dir, append([]string{"--cluster", "a=" + srcs["a"].URL()}, args...)...)...)
	poll.Until(t, 15*time.Second, "subscription", func() bool { return srcs["a"].Subscribers() == 1 })
	emit(srcs["a"], "a", 0, "ok-badly-signed")
	poll.Until(t, 30*time.Second, "the dead letter", func() bool {
		return r.metric("kubernetes_mcp_runner_notifications_dead_lettered_total", `sink="hook"`, `reason="permanent"`) == 1
	})
	if n, h := rcv.counts(); n != 1 || h != 0 {
		t.Fatalf("receiver saw %d requests and handled %d; a bad signature must be refused", n, h)
	}
}

// TestBinarySystemNoticesGoThroughTheOutbox: the breaker opening raises
// triage_degraded, and a cluster without a session past blindAfter raises
// cluster_blind, both delivered to the sink the notice route names.
func TestBinarySystemNoticesGoThroughTheOutbox(t *testing.T) {
	rcv := startReceiver(t, nil)
	srcs := startSources(t, "a")
	dir := t.TempDir()
	key := filepath.Join(dir, "signing-key")
	if err := os.WriteFile(key, []byte(signingKey), 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "notify.yaml")
	yaml := fmt.Sprintf(`sinks:
  - name: ops
    type: webhook
    webhook: {url: %q, signingKeyFile: %q}
routes:
  - match: {kinds: [notice]}
    sinks: [ops]
notices: {blindAfter: 2s}
`, rcv.srv.URL, key)
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	startRunner(t, stateArgs(t, dir, "--cluster", "a="+srcs["a"].URL(),
		"--cluster", "b=http://127.0.0.1:"+strconv.Itoa(freePort(t))+"/mcp",
		"--circuit-breaker-threshold", "1", "--notify-file", file)...)
	poll.Until(t, 15*time.Second, "subscription", func() bool { return srcs["a"].Subscribers() == 1 })
	emit(srcs["a"], "a", 0, "fail-breaker")
	poll.Until(t, 30*time.Second, "two notices", func() bool { _, h := rcv.counts(); return h >= 2 })
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	got := map[string]string{}
	for _, n := range rcv.handled {
		if n.Kind != notify.KindNotice || n.Notice == nil {
			t.Fatalf("an incident reached a notices-only route: %+v", n)
		}
		got[n.Notice.Type] = n.Notice.Cluster
	}
	if c, ok := got[notify.NoticeTriageDegraded]; !ok || c != "" {
		t.Errorf("notices %v: want triage_degraded (runner-wide)", got)
	}
	if c, ok := got[notify.NoticeClusterBlind]; !ok || c != "b" {
		t.Errorf("notices %v: want cluster_blind for b", got)
	}
}

// TestBinarySlackMessageLinksToTheIncidentPage: the Slack sink of the
// built binary posts a Block Kit message that unmarshals into slack-go's
// types, names the status, fault type and cluster, and links to the
// incident's page under --external-url.
func TestBinarySlackMessageLinksToTheIncidentPage(t *testing.T) {
	got := make(chan []byte, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- b
		_, _ = w.Write([]byte("ok"))
	}))
	t.Cleanup(srv.Close)
	srcs := startSources(t, "prod-eu")
	dir := t.TempDir()
	urlFile := filepath.Join(dir, "slack-url")
	if err := os.WriteFile(urlFile, []byte(srv.URL+"/services/T000/B000/XXXX\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "notify.yaml")
	if err := os.WriteFile(file, []byte(fmt.Sprintf("sinks:\n  - name: oncall\n    type: slack\n    slack: {webhookUrlFile: %q}\ndefaultSinks: [oncall]\n", urlFile)), 0o600); err != nil {
		t.Fatal(err)
	}
	startRunner(t, stateArgs(t, dir, "--cluster", "prod-eu="+srcs["prod-eu"].URL(), "--notify-file", file,
		"--external-url", "https://runner.example.com/")...)
	poll.Until(t, 15*time.Second, "subscription", func() bool { return srcs["prod-eu"].Subscribers() == 1 })
	emit(srcs["prod-eu"], "prod-eu", 0, "report-api")
	var body []byte
	select {
	case body = <-got:
	case <-time.After(60 * time.Second):
		t.Fatal("no Slack message")
	}
	var msg slack.WebhookMessage
	if err := json.Unmarshal(body, &msg); err != nil || msg.Blocks == nil || len(msg.Blocks.BlockSet) == 0 {
		t.Fatalf("not a Block Kit message (%v):\n%s", err, body)
	}
	text := string(body)
	for _, want := range []string{"CrashLoop", "success", "prod-eu", "Pod/default/report-api", "https://runner.example.com/incidents/", "CrashLoop in payments/api"} {
		if !strings.Contains(text, want) {
			t.Errorf("Slack message lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "attacker.invalid") || strings.Contains(text, "<script") {
		t.Errorf("Slack message carries the report's link or script:\n%s", text)
	}
}
