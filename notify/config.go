package notify

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/notification"
	"go.yaml.in/yaml/v3"
)

// File is the notifications file (--notify-file): sinks, routes, delivery
// limits and notices. Decoding is strict: an unknown key is an error.
//
//	sinks:
//	  - name: oncall
//	    type: slack
//	    slack: {webhookUrlFile: /etc/kubernetes-mcp-runner/slack-url}
//	routes:
//	  - match: {statuses: [failure, timeout], severities: [critical]}
//	    sinks: [oncall]
type File struct {
	Sinks []SinkConfig `yaml:"sinks"`
	// Routes are tried in order (see Router); DefaultSinks get what no
	// route matches.
	Routes       []Route        `yaml:"routes"`
	DefaultSinks []string       `yaml:"defaultSinks"`
	Delivery     DeliveryConfig `yaml:"delivery"`
	Notices      NoticeConfig   `yaml:"notices"`
}

// SinkConfig is one sink; the block named by Type holds its settings.
type SinkConfig struct {
	Name    string         `yaml:"name"`
	Type    string         `yaml:"type"`
	Webhook *WebhookConfig `yaml:"webhook"`
	Slack   *SlackConfig   `yaml:"slack"`
}

// WebhookConfig is a webhook sink. The URL is given inline (url) when it
// holds no secret, or read from a file or variable; the signing key only
// from a file or variable.
type WebhookConfig struct {
	URL            string        `yaml:"url"`
	URLFile        string        `yaml:"urlFile"`
	URLEnv         string        `yaml:"urlEnv"`
	SigningKeyFile string        `yaml:"signingKeyFile"`
	SigningKeyEnv  string        `yaml:"signingKeyEnv"`
	Timeout        time.Duration `yaml:"timeout"`
	TLS            TLSConfig     `yaml:"tls"`
}

// SlackConfig is a Slack incoming webhook. Its URL is the credential: only
// from a file or a variable.
type SlackConfig struct {
	WebhookURLFile string        `yaml:"webhookUrlFile"`
	WebhookURLEnv  string        `yaml:"webhookUrlEnv"`
	Timeout        time.Duration `yaml:"timeout"`
	SummaryLines   int           `yaml:"summaryLines"`
	TLS            TLSConfig     `yaml:"tls"`
}

// TLSConfig is TLSOptions in the file.
type TLSConfig struct {
	CAFile             string `yaml:"caFile"`
	InsecureSkipVerify bool   `yaml:"insecureSkipVerify"`
}

// DeliveryConfig overrides DefaultPolicy; zero keeps a default.
type DeliveryConfig struct {
	MaxAttempts    int           `yaml:"maxAttempts"`
	MaxAge         time.Duration `yaml:"maxAge"`
	InitialBackoff time.Duration `yaml:"initialBackoff"`
	MaxBackoff     time.Duration `yaml:"maxBackoff"`
	MaxRetryAfter  time.Duration `yaml:"maxRetryAfter"`
}

// NoticeConfig says which system notices are raised.
type NoticeConfig struct {
	// Breaker raises triage degraded/probing/recovered; default true.
	Breaker *bool `yaml:"breaker"`
	// BlindAfter raises cluster_blind once a cluster has had no session
	// for that long (and cluster_restored when it is back); default 5m,
	// a negative value turns blind notices off.
	BlindAfter time.Duration `yaml:"blindAfter"`
}

// Sink types.
const (
	TypeWebhook = "webhook"
	TypeSlack   = "slack"
)

// DefaultBlindAfter is NoticeConfig.BlindAfter's default.
const DefaultBlindAfter = 5 * time.Minute

var (
	sinkName  = regexp.MustCompile(`^[a-z0-9]([a-z0-9_-]{0,62})$`)
	kinds     = []string{KindIncident, KindNotice}
	statuses  = []string{StatusSuccess, StatusFailure, StatusTimeout, StatusInterrupted, notification.StatusError, NoticeTriageDegraded, NoticeTriageProbing, NoticeTriageRecovered, NoticeClusterBlind, NoticeClusterRestored, NoticeBudgetPaused, NoticeBudgetResumed}
	severites = []string{SeverityInfo, SeverityWarning, SeverityCritical, SeverityUnknown}
)

// ParseFile decodes and validates a notifications file. Errors name the
// sink or route and the key at fault.
func ParseFile(data []byte) (File, error) {
	var f File
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return File{}, fmt.Errorf("notifications file: %w", err)
	}
	if err := f.Validate(); err != nil {
		return File{}, err
	}
	return f, nil
}

// Validate reports every problem at once, each naming where it is. It is a
// flat list of independent checks, one per key, kept in the order the
// keys appear in docs/notifications.md; its length is that list's.
func (f File) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	names := map[string]bool{}
	for i, s := range f.Sinks {
		at := fmt.Sprintf("sinks[%d]", i)
		if s.Name != "" {
			at = fmt.Sprintf("sink %q", s.Name)
		}
		switch {
		case s.Name == "":
			bad("%s: name: required", at)
		case !sinkName.MatchString(s.Name):
			bad("%s: name: use 1-63 lowercase letters, digits, '-' or '_'", at)
		case names[s.Name]:
			bad("%s: name: defined twice", at)
		}
		names[s.Name] = true
		switch s.Type {
		case TypeWebhook:
			if s.Slack != nil {
				bad("%s: slack: not allowed with type webhook", at)
			}
			if s.Webhook == nil {
				bad("%s: webhook: required with type webhook", at)
				continue
			}
			w := s.Webhook
			if n := count(w.URL, w.URLFile, w.URLEnv); n != 1 {
				bad("%s: webhook.url, urlFile, urlEnv: set exactly one (%d set)", at, n)
			}
			if w.URL != "" {
				if err := checkURL(NewSecret(w.URL)); err != nil {
					bad("%s: webhook.url: %v", at, err)
				}
			}
			if w.SigningKeyFile != "" && w.SigningKeyEnv != "" {
				bad("%s: webhook.signingKeyFile, signingKeyEnv: set one, not both", at)
			}
			if w.Timeout < 0 {
				bad("%s: webhook.timeout: must not be negative", at)
			}
		case TypeSlack:
			if s.Webhook != nil {
				bad("%s: webhook: not allowed with type slack", at)
			}
			if s.Slack == nil {
				bad("%s: slack: required with type slack", at)
				continue
			}
			if n := count(s.Slack.WebhookURLFile, s.Slack.WebhookURLEnv); n != 1 {
				bad("%s: slack.webhookUrlFile, webhookUrlEnv: set exactly one (%d set)", at, n)
			}
			if s.Slack.Timeout < 0 {
				bad("%s: slack.timeout: must not be negative", at)
			}
			if s.Slack.SummaryLines < 0 || s.Slack.SummaryLines > 20 {
				bad("%s: slack.summaryLines: 0 (default) to 20", at)
			}
		case "":
			bad("%s: type: required (webhook or slack)", at)
		default:
			bad("%s: type: %q is not webhook or slack", at, s.Type)
		}
	}
	checkSinks := func(at string, list []string) {
		for _, s := range list {
			if !names[s] {
				bad("%s: sink %q is not defined", at, s)
			}
		}
	}
	for i, r := range f.Routes {
		at := fmt.Sprintf("routes[%d]", i)
		if len(r.Sinks) == 0 {
			bad("%s: sinks: required", at)
		}
		checkSinks(at+".sinks", r.Sinks)
		checkValues(bad, at+".match.kinds", r.Match.Kinds, kinds)
		checkValues(bad, at+".match.statuses", r.Match.Statuses, statuses)
		checkValues(bad, at+".match.severities", r.Match.Severities, severites)
		for _, p := range r.Match.Clusters {
			if _, err := path.Match(p, ""); err != nil {
				bad("%s.match.clusters: %q: %v", at, p, err)
			}
		}
	}
	checkSinks("defaultSinks", f.DefaultSinks)
	d := f.Delivery
	for _, v := range []struct {
		key string
		d   time.Duration
	}{{"maxAge", d.MaxAge}, {"initialBackoff", d.InitialBackoff}, {"maxBackoff", d.MaxBackoff}, {"maxRetryAfter", d.MaxRetryAfter}} {
		if v.d < 0 {
			bad("delivery.%s: must not be negative", v.key)
		}
	}
	if d.MaxAttempts < 0 {
		bad("delivery.maxAttempts: must not be negative")
	}
	return errors.Join(errs...)
}

func count(vs ...string) int {
	n := 0
	for _, v := range vs {
		if v != "" {
			n++
		}
	}
	return n
}

func checkValues(bad func(string, ...any), at string, got, known []string) {
	for _, v := range got {
		if !slices.Contains(known, v) {
			bad("%s: %q is not one of %s", at, v, strings.Join(known, ", "))
		}
	}
}

// Policy is DefaultPolicy with the file's overrides.
func (f File) Policy() Policy {
	p := DefaultPolicy()
	d := f.Delivery
	if d.MaxAttempts > 0 {
		p.MaxAttempts = d.MaxAttempts
	}
	if d.MaxAge > 0 {
		p.MaxAge = d.MaxAge
	}
	if d.InitialBackoff > 0 {
		p.InitialBackoff = d.InitialBackoff
	}
	if d.MaxBackoff > 0 {
		p.MaxBackoff = d.MaxBackoff
	}
	if d.MaxRetryAfter > 0 {
		p.MaxRetryAfter = d.MaxRetryAfter
	}
	if p.MaxBackoff < p.InitialBackoff {
		p.MaxBackoff = p.InitialBackoff
	}
	return p
}

// Router is the file's routes and default sinks.
func (f File) Router() Router { return Router{Routes: f.Routes, Default: f.DefaultSinks} }

// BreakerNotices says whether breaker transitions raise notices.
func (f File) BreakerNotices() bool { return f.Notices.Breaker == nil || *f.Notices.Breaker }

// BlindAfter is how long a cluster may be blind before a notice; zero
// means blind notices are off.
func (f File) BlindAfter() time.Duration {
	switch {
	case f.Notices.BlindAfter < 0:
		return 0
	case f.Notices.BlindAfter == 0:
		return DefaultBlindAfter
	}
	return f.Notices.BlindAfter
}

// BuildOptions are what building sinks needs from the runner.
type BuildOptions struct {
	LookupEnv func(string) (string, bool)
	Now       func() time.Time
	UserAgent string
}

// BuildSinks reads the secrets and builds every sink, by name. Errors name the
// sink and the key, never a secret.
func (f File) BuildSinks(o BuildOptions) (map[string]Sink, error) {
	if o.LookupEnv == nil {
		o.LookupEnv = os.LookupEnv
	}
	out := make(map[string]Sink, len(f.Sinks))
	for _, s := range f.Sinks {
		at := fmt.Sprintf("sink %q", s.Name)
		switch s.Type {
		case TypeWebhook:
			w := s.Webhook
			url := NewSecret(w.URL)
			if w.URL == "" {
				var err error
				if url, err = LoadSecret(w.URLFile, w.URLEnv, o.LookupEnv); err != nil {
					return nil, fmt.Errorf("%s: webhook.urlFile/urlEnv: %w", at, err)
				}
			}
			var key Secret
			if w.SigningKeyFile != "" || w.SigningKeyEnv != "" {
				var err error
				if key, err = LoadSecret(w.SigningKeyFile, w.SigningKeyEnv, o.LookupEnv); err != nil {
					return nil, fmt.Errorf("%s: webhook.signingKeyFile/signingKeyEnv: %w", at, err)
				}
			}
			sink, err := NewWebhook(WebhookOptions{
				Name: s.Name, URL: url, SigningKey: key, Timeout: w.Timeout,
				TLS: TLSOptions(w.TLS), Now: o.Now, UserAgent: o.UserAgent,
			})
			if err != nil {
				return nil, err
			}
			out[s.Name] = sink
		case TypeSlack:
			url, err := LoadSecret(s.Slack.WebhookURLFile, s.Slack.WebhookURLEnv, o.LookupEnv)
			if err != nil {
				return nil, fmt.Errorf("%s: slack.webhookUrlFile/webhookUrlEnv: %w", at, err)
			}
			sink, err := NewSlack(SlackOptions{
				Name: s.Name, WebhookURL: url, Timeout: s.Slack.Timeout, TLS: TLSOptions(s.Slack.TLS),
				SummaryLines: s.Slack.SummaryLines, Now: o.Now,
			})
			if err != nil {
				return nil, err
			}
			out[s.Name] = sink
		default:
			return nil, fmt.Errorf("%s: type: %q is not webhook or slack", at, s.Type)
		}
	}
	return out, nil
}

// LoadFile reads, validates and builds a notifications file.
func LoadFile(path string) (File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return File{}, fmt.Errorf("notifications file: %w", err)
	}
	return ParseFile(data)
}
