package notify

import (
	"strings"
	"testing"
	"time"
)

// An incident's cost reaches Slack as one field; the model name, which
// the agent wrote, is escaped like any untrusted text.
func TestSlackIncidentCost(t *testing.T) {
	in := withSpend(sampleIncident())
	in.Spend.Model = "model <@U123>"
	_, all := texts(t, sendSlack(t, &slackReceiver{}, NewIncident(in, DocOptions{})))
	var joined strings.Builder
	for _, tx := range all {
		joined.WriteString(tx.Text + "\n")
	}
	if want := "*Cost*\n$0.40 · 1500 in / 0 out tokens · model &lt;@U123&gt;"; !strings.Contains(joined.String(), want) {
		t.Errorf("message lacks %q in:\n%s", want, joined.String())
	}
}

// The pause and resume notices name the scope, the limit and when triage
// resumes, in the webhook document and in Slack.
func TestBudgetNotices(t *testing.T) {
	until := t0.Add(15 * time.Hour)
	p := NewBudgetNotice("prod-eu", true, "cluster_usd_per_day", until, t0, DocOptions{})
	if p.Notice.Type != NoticeBudgetPaused || p.Notice.Cluster != "prod-eu" || p.Notice.Reason != "cluster_usd_per_day" ||
		!p.Notice.Until.Equal(until) || p.Severity() != SeverityWarning {
		t.Errorf("pause notice %+v", p.Notice)
	}
	if !strings.HasPrefix(p.Notice.Summary, "Triage paused: budget spent") {
		t.Errorf("summary %q", p.Notice.Summary)
	}
	header, all := texts(t, sendSlack(t, &slackReceiver{}, p))
	if header != ":money_with_wings: Triage paused: budget spent" || !strings.Contains(all[1].Text, "cluster prod-eu") {
		t.Errorf("slack pause: %q %q", header, all[1].Text)
	}
	r := NewBudgetNotice("", false, "", time.Time{}, t0.Add(time.Hour), DocOptions{})
	if r.Notice.Type != NoticeBudgetResumed || r.Notice.Cluster != "" || r.IdempotencyKey == p.IdempotencyKey {
		t.Errorf("resume notice %+v", r)
	}
}
