package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/slack-go/slack"
)

// Bounds of what a Slack message shows of a report. Slack caps a section's
// text at 3000 characters and a header at 150; staying well under keeps the
// message a glance, with the incident page one click away.
const (
	DefaultSummaryLines = 6
	DefaultSummaryBytes = 1200
	slackHeaderMax      = 150
	slackFieldMax       = 300
)

// SlackOptions configure a Slack incoming-webhook sink.
type SlackOptions struct {
	Name string
	// WebhookURL is the incoming webhook; it is the credential.
	WebhookURL Secret
	Timeout    time.Duration
	TLS        TLSOptions
	// SummaryLines and SummaryBytes bound the report summary; zero means
	// the defaults.
	SummaryLines int
	SummaryBytes int
	Now          func() time.Time
}

// Slack posts Block Kit messages to an incoming webhook.
type Slack struct {
	o      SlackOptions
	client *http.Client
}

// NewSlack checks the options and builds the sink.
func NewSlack(o SlackOptions) (*Slack, error) {
	if o.Name == "" {
		return nil, errors.New("slack sink: no name")
	}
	if err := checkURL(o.WebhookURL); err != nil {
		return nil, fmt.Errorf("slack sink %s: webhookUrl: %w", o.Name, err)
	}
	c, err := httpClient(o.Timeout, o.TLS)
	if err != nil {
		return nil, fmt.Errorf("slack sink %s: %w", o.Name, err)
	}
	if o.SummaryLines <= 0 {
		o.SummaryLines = DefaultSummaryLines
	}
	if o.SummaryBytes <= 0 {
		o.SummaryBytes = DefaultSummaryBytes
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Slack{o: o, client: c}, nil
}

// Name is the sink's configured name.
func (s *Slack) Name() string { return s.o.Name }

// String names the sink without its webhook URL.
func (s *Slack) String() string { return "slack sink " + s.o.Name }

// LogValue keeps the webhook URL out of structured logs.
func (s *Slack) LogValue() slog.Value {
	return slog.GroupValue(slog.String("type", "slack"), slog.String("name", s.o.Name))
}

// Send posts n as a Block Kit message. Slack answers 429 with Retry-After
// when rate limited; that becomes a StatusError Classify turns into
// RetryLater with the delay.
func (s *Slack) Send(ctx context.Context, n Notification) error {
	msg, err := s.Message(n)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrPermanent, err)
	}
	body, err := json.Marshal(msg)
	if err != nil {
		return fmt.Errorf("%w: encode message: %v", ErrPermanent, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.o.WebhookURL.Reveal(), bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%w: build request", ErrPermanent)
	}
	req.Header.Set("Content-Type", "application/json")
	return post(s.client, req, s.o.Now)
}

var statusWords = map[string]struct{ emoji, words string }{
	StatusSuccess:     {":mag:", "Investigated"},
	StatusFailure:     {":x:", "Investigation failed"},
	StatusTimeout:     {":hourglass:", "Investigation timed out"},
	StatusInterrupted: {":double_vertical_bar:", "Investigation interrupted"},
}

var noticeWords = map[string]struct{ emoji, words string }{
	NoticeTriageDegraded:  {":rotating_light:", "Triage degraded"},
	NoticeTriageProbing:   {":large_yellow_circle:", "Triage probing"},
	NoticeTriageRecovered: {":white_check_mark:", "Triage recovered"},
	NoticeClusterBlind:    {":see_no_evil:", "Cluster blind"},
	NoticeClusterRestored: {":eyes:", "Cluster seen again"},
	NoticeBudgetPaused:    {":money_with_wings:", "Triage paused: budget spent"},
	NoticeBudgetResumed:   {":arrow_forward:", "Triage resumed"},
}

// Message builds the Slack message of n. Everything taken from the fault or
// the report is untrusted: it is escaped, stripped of links and sent
// verbatim, so it can neither mention anyone nor link anywhere. Only the
// incident link, built from the runner's own external URL, is a link.
func (s *Slack) Message(n Notification) (*slack.WebhookMessage, error) {
	var blocks []slack.Block
	var fallback string
	switch {
	case n.Incident != nil:
		blocks, fallback = s.incidentBlocks(n.Incident)
	case n.Notice != nil:
		blocks, fallback = noticeBlocks(n.Notice)
	default:
		return nil, errors.New("notification has neither incident nor notice")
	}
	no := false
	return &slack.WebhookMessage{
		// The fallback shows in push notifications; top-level text has no
		// verbatim switch, so parse=none keeps Slack from linking in it.
		Text:        fallback,
		Parse:       "none",
		Blocks:      &slack.Blocks{BlockSet: blocks},
		UnfurlLinks: &no,
		UnfurlMedia: &no,
	}, nil
}

func plain(s string, max int) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.PlainTextType, truncate(PlainSlack(strings.Join(strings.Fields(s), " ")), max), true, false)
}

// md is an mrkdwn text object sent verbatim: Slack does not turn URLs,
// channel names or @words in it into links or mentions.
func md(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, s, false, true)
}

func field(label, value string) *slack.TextBlockObject {
	return md("*" + label + "*\n" + truncate(EscapeSlack(oneLine(value)), slackFieldMax))
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if s == "" {
		return "–"
	}
	return s
}

// slackLink is a manual Slack link to a URL the runner built itself.
func slackLink(url, text string) string {
	url = strings.ReplaceAll(EscapeSlack(url), "|", "%7C")
	return "<" + url + "|" + EscapeSlack(text) + ">"
}

func (s *Slack) incidentBlocks(inc *Incident) ([]slack.Block, string) {
	w, ok := statusWords[inc.Status]
	if !ok {
		w = statusWords[StatusFailure]
		w.words = "Investigation " + inc.Status
	}
	faultType := oneLine(inc.Fault.Type)
	blocks := []slack.Block{
		slack.NewHeaderBlock(plain(w.emoji+" "+w.words+": "+faultType, slackHeaderMax)),
	}
	fields := []*slack.TextBlockObject{
		field("Cluster", inc.Cluster),
		field("Resource", inc.Fault.Resource.String()),
		field("Severity", inc.Fault.Severity),
		field("Duration", (time.Duration(inc.DurationSeconds * float64(time.Second))).Round(time.Second).String()),
	}
	status := inc.Status
	if inc.Reason != "" {
		status += " (" + inc.Reason + ")"
	}
	fields = append(fields, field("Status", status))
	if inc.Attempt > 1 {
		fields = append(fields, field("Attempt", fmt.Sprint(inc.Attempt)))
	}
	if inc.Spend != nil {
		fields = append(fields, field("Cost", inc.Spend.String()))
	}
	blocks = append(blocks, slack.NewSectionBlock(nil, fields, nil))

	if text := s.reportText(inc.Report); text != "" {
		blocks = append(blocks, slack.NewSectionBlock(md(text), nil, nil))
	}

	ctx := []string{"Incident `" + EscapeSlack(inc.ID) + "`"}
	if inc.Report.Bytes > 0 {
		ctx = append(ctx, "report "+byteSize(inc.Report.Bytes))
	}
	if inc.Links.Incident != "" {
		ctx = append(ctx, slackLink(inc.Links.Incident, "Open incident"))
	}
	blocks = append(blocks, slack.NewContextBlock("", md(strings.Join(ctx, " · "))))

	fallback := EscapeSlack(oneLine(w.words + ": " + faultType + " on " + inc.Cluster))
	return blocks, truncate(fallback, slackHeaderMax)
}

// reportText is the report's title in bold and its summary lines, as safe
// mrkdwn, within SummaryBytes.
func (s *Slack) reportText(r Report) string {
	sum := Summarize(r.Excerpt, s.o.SummaryLines)
	var lines []string
	if sum.Title != "" {
		lines = append(lines, "*"+strings.Trim(Mrkdwn(sum.Title), "*_ ")+"*")
	}
	for _, l := range sum.Lines {
		lines = append(lines, Mrkdwn(l))
	}
	if len(lines) == 0 {
		if r.Bytes == 0 {
			return "_No report was written._"
		}
		return ""
	}
	text := strings.Join(lines, "\n")
	if len(text) > s.o.SummaryBytes {
		text = truncate(text, s.o.SummaryBytes)
	}
	return text
}

func noticeBlocks(n *Notice) ([]slack.Block, string) {
	w, ok := noticeWords[n.Type]
	if !ok {
		w.emoji, w.words = ":information_source:", n.Type
	}
	blocks := []slack.Block{
		slack.NewHeaderBlock(plain(w.emoji+" "+w.words, slackHeaderMax)),
		slack.NewSectionBlock(md(truncate(EscapeSlack(n.Summary), 2000)), nil, nil),
	}
	ctx := []string{"At " + n.At.UTC().Format(time.RFC3339)}
	if !n.Since.IsZero() {
		ctx = append(ctx, "since "+n.Since.UTC().Format(time.RFC3339))
	}
	if n.Links.Incident != "" {
		ctx = append(ctx, slackLink(n.Links.Incident, "Open incidents"))
	}
	blocks = append(blocks, slack.NewContextBlock("", md(strings.Join(ctx, " · "))))
	return blocks, truncate(EscapeSlack(oneLine(n.Summary)), slackHeaderMax)
}

func byteSize(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
