package notify

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/fakeclock"
)

// slackReceiver stands in for Slack's incoming webhook: it decodes every
// message into slack-go's types, as Slack would parse it.
type slackReceiver struct {
	mu   sync.Mutex
	msgs []slack.WebhookMessage
	raw  []string
	// answer, when set, decides the response.
	answer func(w http.ResponseWriter, n int) bool
}

func (s *slackReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.raw = append(s.raw, string(body))
	if s.answer != nil && s.answer(w, len(s.raw)) {
		return
	}
	var m slack.WebhookMessage
	if err := json.Unmarshal(body, &m); err != nil {
		http.Error(w, "invalid_payload", http.StatusBadRequest)
		return
	}
	s.msgs = append(s.msgs, m)
	_, _ = io.WriteString(w, "ok")
}

// texts gathers every text object of a message's blocks.
func texts(t *testing.T, m slack.WebhookMessage) (header string, all []*slack.TextBlockObject) {
	t.Helper()
	if m.Blocks == nil {
		t.Fatal("message has no blocks")
	}
	for _, b := range m.Blocks.BlockSet {
		switch b := b.(type) {
		case *slack.HeaderBlock:
			header = b.Text.Text
			all = append(all, b.Text)
		case *slack.SectionBlock:
			if b.Text != nil {
				all = append(all, b.Text)
			}
			all = append(all, b.Fields...)
		case *slack.ContextBlock:
			for _, e := range b.ContextElements.Elements {
				if tx, ok := e.(*slack.TextBlockObject); ok {
					all = append(all, tx)
				} else {
					t.Fatalf("unexpected context element %T", e)
				}
			}
		default:
			t.Fatalf("unexpected block %T", b)
		}
	}
	for _, tx := range all {
		if err := tx.Validate(); err != nil {
			t.Errorf("text object %q: %v", tx.Text, err)
		}
	}
	return header, all
}

func sendSlack(t *testing.T, rc *slackReceiver, n Notification) slack.WebhookMessage {
	t.Helper()
	srv := httptest.NewServer(rc)
	defer srv.Close()
	sl, err := NewSlack(SlackOptions{Name: "oncall", WebhookURL: NewSecret(srv.URL)})
	if err != nil {
		t.Fatal(err)
	}
	if r := Deliver(context.Background(), sl, n); r.Outcome != Delivered {
		t.Fatalf("delivery: %v %v", r.Outcome, r.Err)
	}
	if len(rc.msgs) != 1 {
		t.Fatalf("receiver got %d messages", len(rc.msgs))
	}
	return rc.msgs[0]
}

func TestSlackIncidentMessage(t *testing.T) {
	rc := &slackReceiver{}
	m := sendSlack(t, rc, NewIncident(sampleIncident(), DocOptions{ExternalURL: "https://runner.example.com"}))
	header, all := texts(t, m)
	if header != ":mag: Investigated: CrashLoop" {
		t.Errorf("header %q", header)
	}
	var joined strings.Builder
	for _, tx := range all {
		joined.WriteString(tx.Text + "\n")
		if tx.Type == slack.MarkdownType && !tx.Verbatim {
			t.Errorf("mrkdwn text not verbatim: %q", tx.Text)
		}
	}
	text := joined.String()
	for _, want := range []string{
		"*Cluster*\nprod-eu", "*Resource*\nPod/payments/api-7d9", "*Severity*\ncritical", "*Duration*\n1m20s",
		"*Status*\nsuccess",
		"*CrashLoop in payments/api: bad DATABASE_URL*", // the report's title
		"The *api* container exits with `code 1` because DATABASE_URL points at &lt;db.internal&gt;.", // a summary line
		"<https://runner.example.com/incidents/a1b2c3d4e5f60718-mx1abc|Open incident>",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("message lacks %q in:\n%s", want, text)
		}
	}
	if strings.Contains(text, "kubectl logs") {
		t.Errorf("code block of the report reached the summary:\n%s", text)
	}
	if m.UnfurlLinks == nil || *m.UnfurlLinks || m.UnfurlMedia == nil || *m.UnfurlMedia || m.Parse != "none" {
		t.Errorf("unfurl/parse: %v %v %q", m.UnfurlLinks, m.UnfurlMedia, m.Parse)
	}
	if m.Text != "Investigated: CrashLoop on prod-eu" {
		t.Errorf("fallback text %q", m.Text)
	}
}

// TestSlackNeutralisesUntrustedReport: the agent's report tries mentions,
// channel links, invented links and HTML; none survives as such.
func TestSlackNeutralisesUntrustedReport(t *testing.T) {
	rc := &slackReceiver{}
	in := sampleIncident()
	in.Fault.Type = "CrashLoop <!everyone>"
	in.Fault.Resource.Name = "<@U999|boss>"
	m := sendSlack(t, rc, NewIncident(in, DocOptions{}))
	_, all := texts(t, m)
	// The only "<" Slack may see is the start of a link the runner built;
	// with no external URL there is none at all.
	slackSyntax := regexp.MustCompile(`<[!@#]|<https?:|<script|<img|onerror=|\]\(`)
	var joined strings.Builder
	for _, tx := range all {
		joined.WriteString(tx.Text + "\n")
	}
	joined.WriteString(m.Text)
	text := joined.String()
	if strings.Contains(text, "<") || strings.Contains(text, ">") {
		t.Errorf("raw angle bracket in message:\n%s", text)
	}
	if slackSyntax.MatchString(text) {
		t.Errorf("Slack syntax survived:\n%s", text)
	}
	for _, want := range []string{"&lt;!here&gt;", "&lt;!channel&gt;", "&lt;@U024BE7LH&gt;", "the runbook", "&lt;@U999|boss&gt;"} {
		if !strings.Contains(text, want) {
			t.Errorf("expected escaped %q in:\n%s", want, text)
		}
	}
	if strings.Contains(text, "evil.example/phish") {
		t.Errorf("invented link target kept:\n%s", text)
	}
	if strings.Contains(rc.raw[0], "Open incident") {
		t.Errorf("incident link without an external URL")
	}
}

func TestSlackSummaryBounded(t *testing.T) {
	in := sampleIncident()
	in.ReportText = []byte("# Title\n\n" + strings.Repeat("word ", 2000) + "\n" + strings.Repeat("- item\n", 50))
	sl, err := NewSlack(SlackOptions{Name: "s", WebhookURL: NewSecret("https://hooks.example.com/x")})
	if err != nil {
		t.Fatal(err)
	}
	m, err := sl.Message(NewIncident(in, DocOptions{}))
	if err != nil {
		t.Fatal(err)
	}
	_, all := texts(t, *m)
	for _, tx := range all {
		if len(tx.Text) > DefaultSummaryBytes {
			t.Errorf("text of %d bytes over %d", len(tx.Text), DefaultSummaryBytes)
		}
	}
}

func TestSlackNotices(t *testing.T) {
	n, err := NewBreakerNotice("open", t0, t0, DocOptions{ExternalURL: "https://runner.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	header, all := texts(t, sendSlack(t, &slackReceiver{}, n))
	if header != ":rotating_light: Triage degraded" {
		t.Errorf("header %q", header)
	}
	if !strings.Contains(all[1].Text, "Triage degraded") {
		t.Errorf("summary %q", all[1].Text)
	}
	b := NewBlindNotice("prod-<eu>", true, t0, t0.Add(6*time.Minute), DocOptions{})
	header, all = texts(t, sendSlack(t, &slackReceiver{}, b))
	if header != ":see_no_evil: Cluster blind" || !strings.Contains(all[1].Text, "Cluster prod-&lt;eu&gt; blind for 6m0s") {
		t.Errorf("blind notice: %q %q", header, all[1].Text)
	}
	if _, err := NewBreakerNotice("melted", t0, t0, DocOptions{}); err == nil {
		t.Error("unknown breaker state accepted")
	}
}

func TestSlack429RetryAfterIsHonoured(t *testing.T) {
	rc := &slackReceiver{answer: func(w http.ResponseWriter, n int) bool {
		if n == 1 {
			w.Header().Set("Retry-After", "7")
			http.Error(w, "rate_limited", http.StatusTooManyRequests)
			return true
		}
		return false
	}}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	c := fakeclock.New(t0)
	sl, err := NewSlack(SlackOptions{Name: "oncall", WebhookURL: NewSecret(srv.URL), Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	n := NewIncident(sampleIncident(), DocOptions{})
	store := newMemStore(t, NewRecords(n, []string{"oncall"}, t0)...)
	p, err := NewPump(PumpOptions{Store: store, Sinks: map[string]Sink{"oncall": sl}, Policy: DefaultPolicy(), Now: c.Now, Rand: func() float64 { return 0.99 }})
	if err != nil {
		t.Fatal(err)
	}
	var results []Result
	p.o.OnAttempt = func(_ string, r Result, _ OutboxRecord) { results = append(results, r) }
	if _, err := p.RunOnce(context.Background(), "oncall", t0); err != nil {
		t.Fatal(err)
	}
	if len(results) != 1 || results[0].Outcome != RetryLater || results[0].RetryAfter != 7*time.Second || results[0].StatusCode != 429 {
		t.Fatalf("results %+v", results)
	}
	rec := store.get("oncall", n.IdempotencyKey)
	if rec.State != StatePending || !rec.NextAttemptAt.Equal(t0.Add(7*time.Second)) {
		t.Fatalf("after 429: state %s next %v, want pending at +7s", rec.State, rec.NextAttemptAt)
	}
	// Not due before the receiver's delay.
	if k, _ := p.RunOnce(context.Background(), "oncall", t0.Add(6*time.Second)); k != 0 {
		t.Fatalf("attempted %d before Retry-After passed", k)
	}
	c.Set(t0.Add(7 * time.Second))
	if k, _ := p.RunOnce(context.Background(), "oncall", c.Now()); k != 1 {
		t.Fatalf("attempted %d at Retry-After", k)
	}
	if rec := store.get("oncall", n.IdempotencyKey); rec.State != StateDelivered || rec.Attempts != 2 {
		t.Fatalf("after retry: %+v", rec)
	}
	if len(rc.msgs) != 1 {
		t.Fatalf("slack got %d messages", len(rc.msgs))
	}
}
