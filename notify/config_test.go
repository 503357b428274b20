package notify

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestRouterFirstMatchUnlessContinue(t *testing.T) {
	r := Router{
		Routes: []Route{
			{Match: Match{Statuses: []string{StatusFailure, StatusTimeout}, Severities: []string{SeverityCritical}, Clusters: []string{"prod-*"}}, Sinks: []string{"pager"}, Continue: true},
			{Match: Match{Kinds: []string{KindIncident}, Clusters: []string{"prod-*"}}, Sinks: []string{"oncall", "pager"}},
			{Match: Match{Kinds: []string{KindIncident}}, Sinks: []string{"audit"}},
			{Match: Match{Statuses: []string{NoticeTriageDegraded, NoticeTriageRecovered}}, Sinks: []string{"oncall"}},
		},
		Default: []string{"audit"},
	}
	inc := func(cluster, status, sev string) Notification {
		in := sampleIncident()
		in.Cluster, in.Status, in.Fault.Severity = cluster, status, sev
		return NewIncident(in, DocOptions{})
	}
	degraded, _ := NewBreakerNotice("open", t0, t0, DocOptions{})
	probing, _ := NewBreakerNotice("half-open", t0, t0, DocOptions{})
	for name, tc := range map[string]struct {
		n    Notification
		want []string
	}{
		"critical failure in prod: continue, then first match":   {inc("prod-eu", StatusFailure, SeverityCritical), []string{"pager", "oncall"}},
		"success in prod: second route only":                     {inc("prod-eu", StatusSuccess, SeverityCritical), []string{"oncall", "pager"}},
		"staging: third route, stops there":                      {inc("staging", StatusFailure, SeverityCritical), []string{"audit"}},
		"breaker notice: no cluster, fourth route":               {degraded, []string{"oncall"}},
		"unrouted notice: default sinks":                         {probing, []string{"audit"}},
		"blind notice in prod: no route names it, default sinks": {NewBlindNotice("prod-us", true, t0, t0, DocOptions{}), []string{"audit"}},
	} {
		if got := r.Sinks(tc.n); !slices.Equal(got, tc.want) {
			t.Errorf("%s: sinks %v, want %v", name, got, tc.want)
		}
	}
	if got := (Router{}).Sinks(degraded); len(got) != 0 {
		t.Errorf("no routes and no default: %v", got)
	}
}

const exampleFile = `
sinks:
  - name: oncall
    type: slack
    slack:
      webhookUrlFile: SLACKFILE
      timeout: 5s
  - name: audit
    type: webhook
    webhook:
      urlEnv: AUDIT_URL
      signingKeyFile: KEYFILE
      timeout: 3s
      tls: {insecureSkipVerify: false}
routes:
  - match: {statuses: [failure, timeout], severities: [critical]}
    sinks: [oncall]
    continue: true
  - match: {kinds: [incident]}
    sinks: [audit]
defaultSinks: [oncall]
delivery:
  maxAttempts: 10
  maxAge: 2h
notices:
  blindAfter: 10m
`

func TestParseAndBuildFile(t *testing.T) {
	dir := t.TempDir()
	slackFile, keyFile := filepath.Join(dir, "slack-url"), filepath.Join(dir, "key")
	if err := os.WriteFile(slackFile, []byte("https://hooks.example.com/services/T/B/SECRETPATH\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, []byte("signing-key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	data := strings.NewReplacer("SLACKFILE", slackFile, "KEYFILE", keyFile).Replace(exampleFile)
	f, err := ParseFile([]byte(data))
	if err != nil {
		t.Fatal(err)
	}
	p := f.Policy()
	if p.MaxAttempts != 10 || p.MaxAge != 2*time.Hour || p.InitialBackoff != DefaultPolicy().InitialBackoff {
		t.Errorf("policy %+v", p)
	}
	if f.BlindAfter() != 10*time.Minute || !f.BreakerNotices() {
		t.Errorf("notices %v %v", f.BlindAfter(), f.BreakerNotices())
	}
	env := map[string]string{"AUDIT_URL": "https://audit.example.com/in"}
	sinks, err := f.BuildSinks(BuildOptions{LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
	if err != nil {
		t.Fatal(err)
	}
	sl, ok := sinks["oncall"].(*Slack)
	if !ok || sl.o.WebhookURL.Reveal() != "https://hooks.example.com/services/T/B/SECRETPATH" || sl.client.Timeout != 5*time.Second {
		t.Fatalf("slack sink %+v", sinks["oncall"])
	}
	wh, ok := sinks["audit"].(*Webhook)
	if !ok || wh.o.SigningKey.Reveal() != "signing-key" || wh.o.URL.Reveal() != env["AUDIT_URL"] {
		t.Fatalf("webhook sink %+v", sinks["audit"])
	}

	// A missing variable is reported by name, never by value.
	delete(env, "AUDIT_URL")
	_, err = f.BuildSinks(BuildOptions{LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
	if err == nil || !strings.Contains(err.Error(), `sink "audit"`) || !strings.Contains(err.Error(), "AUDIT_URL") {
		t.Fatalf("missing env: %v", err)
	}
}

func TestFileValidationNamesSinkAndKey(t *testing.T) {
	for name, tc := range map[string]struct{ yaml, want string }{
		"unknown key":      {`sinks: [{name: a, type: slack, slack: {webhookUrlFile: /x, colour: red}}]`, "field colour not found"},
		"inline slack url": {`sinks: [{name: a, type: slack, slack: {webhookUrl: "https://x"}}]`, "field webhookUrl not found"},
		"no url":           {`sinks: [{name: a, type: slack, slack: {timeout: 1s}}]`, `sink "a": slack.webhookUrlFile, webhookUrlEnv: set exactly one`},
		"two urls":         {`sinks: [{name: b, type: webhook, webhook: {url: "https://x", urlEnv: U}}]`, `sink "b": webhook.url, urlFile, urlEnv: set exactly one (2 set)`},
		"bad url":          {`sinks: [{name: b, type: webhook, webhook: {url: "ftp://x"}}]`, `sink "b": webhook.url: want an absolute http or https URL`},
		"two keys":         {`sinks: [{name: b, type: webhook, webhook: {url: "https://x", signingKeyFile: /k, signingKeyEnv: K}}]`, `sink "b": webhook.signingKeyFile, signingKeyEnv`},
		"wrong block":      {`sinks: [{name: c, type: slack, webhook: {url: "https://x"}, slack: {webhookUrlEnv: S}}]`, `sink "c": webhook: not allowed with type slack`},
		"missing block":    {`sinks: [{name: c, type: webhook}]`, `sink "c": webhook: required with type webhook`},
		"bad type":         {`sinks: [{name: d, type: teams}]`, `sink "d": type: "teams" is not webhook or slack`},
		"no name":          {`sinks: [{type: slack, slack: {webhookUrlEnv: S}}]`, `sinks[0]: name: required`},
		"bad name":         {`sinks: [{name: "On Call", type: slack, slack: {webhookUrlEnv: S}}]`, `sink "On Call": name: use`},
		"duplicate":        {`sinks: [{name: a, type: slack, slack: {webhookUrlEnv: S}}, {name: a, type: slack, slack: {webhookUrlEnv: T}}]`, `sink "a": name: defined twice`},
		"undefined sink":   {`routes: [{match: {}, sinks: [ghost]}]`, `routes[0].sinks: sink "ghost" is not defined`},
		"bad status":       {`sinks: [{name: a, type: slack, slack: {webhookUrlEnv: S}}]` + "\n" + `routes: [{match: {statuses: [failed]}, sinks: [a]}]`, `routes[0].match.statuses: "failed" is not one of`},
		"bad severity":     {`sinks: [{name: a, type: slack, slack: {webhookUrlEnv: S}}]` + "\n" + `routes: [{match: {severities: [high]}, sinks: [a]}]`, `routes[0].match.severities: "high"`},
		"bad pattern":      {`sinks: [{name: a, type: slack, slack: {webhookUrlEnv: S}}]` + "\n" + `routes: [{match: {clusters: ["prod-["]}, sinks: [a]}]`, `routes[0].match.clusters: "prod-["`},
		"route no sinks":   {`routes: [{match: {}}]`, `routes[0]: sinks: required`},
		"default":          {`defaultSinks: [nowhere]`, `defaultSinks: sink "nowhere" is not defined`},
		"negative":         {`delivery: {maxAge: -1h}`, `delivery.maxAge: must not be negative`},
	} {
		_, err := ParseFile([]byte(tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to contain %q", name, err, tc.want)
		}
	}
	if f, err := ParseFile(nil); err != nil || len(f.Sinks) != 0 {
		t.Errorf("empty file: %v", err)
	}
}
