//go:build e2e

package alertmanagertest_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/alertmanagertest"
)

// TestAlertmanagerDeliversOneNotification starts the real binary, posts one
// alert to its API and checks the webhook receives it with the configured
// bearer token.
func TestAlertmanagerDeliversOneNotification(t *testing.T) {
	rcv := alertmanagertest.NewReceiver()
	defer rcv.Close()
	am := alertmanagertest.Start(t, alertmanagertest.Config{WebhookURL: rcv.URL, BearerToken: "s3cret"})
	t.Logf("running %s at %s", am.Version, am.URL)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := am.Post(ctx, alertmanagertest.Alert{
		Labels:      map[string]string{"alertname": "SmokeTest", "severity": "warning"},
		Annotations: map[string]string{"summary": "smoke"},
	}); err != nil {
		t.Fatal(err)
	}
	n, err := rcv.Next(ctx, 0)
	if err != nil {
		t.Fatalf("no notification: %v", err)
	}
	if got := n.Header.Get("Authorization"); got != "Bearer s3cret" {
		t.Errorf("Authorization = %q, want the bearer token", got)
	}
	var body struct {
		Version string `json:"version"`
		Alerts  []struct {
			Status string            `json:"status"`
			Labels map[string]string `json:"labels"`
		} `json:"alerts"`
	}
	if err := json.Unmarshal(n.Body, &body); err != nil {
		t.Fatalf("body %s: %v", n.Body, err)
	}
	if body.Version != "4" || len(body.Alerts) != 1 || body.Alerts[0].Labels["alertname"] != "SmokeTest" || body.Alerts[0].Status != "firing" {
		t.Errorf("notification %s", n.Body)
	}
}

// TestPrometheusRuleReachesWebhook runs the whole chain a cluster has: a
// rule on a metric the test controls fires in Prometheus, Alertmanager
// notifies the webhook, and when the metric drops the alert resolves with
// the same fingerprint and start.
func TestPrometheusRuleReachesWebhook(t *testing.T) {
	rcv := alertmanagertest.NewReceiver()
	defer rcv.Close()
	am := alertmanagertest.Start(t, alertmanagertest.Config{WebhookURL: rcv.URL, BearerToken: "s3cret"})
	g := alertmanagertest.NewGauge("test_pod_restarts")
	defer g.Close()
	prom := alertmanagertest.StartPrometheus(t, alertmanagertest.PrometheusConfig{
		Targets:        []string{g.Addr()},
		Alertmanager:   am.Addr(),
		ExternalLabels: map[string]string{"cluster": "prod"},
		Rules: `groups:
  - name: test
    rules:
      - alert: TestPodCrashLooping
        expr: test_pod_restarts > 0
        labels: {severity: critical, namespace: shop, pod: api-1}
        annotations: {summary: "Pod is crash looping."}
`,
	})
	t.Logf("%s, %s", prom.Version, am.Version)

	type alert struct {
		Status, Fingerprint string
		Labels              map[string]string
		StartsAt            time.Time
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	seen := 0
	next := func(status string) alert {
		t.Helper()
		for {
			n, err := rcv.Next(ctx, seen)
			if err != nil {
				t.Fatalf("no %s notification: %v", status, err)
			}
			seen++
			var body struct{ Alerts []alert }
			if err := json.Unmarshal(n.Body, &body); err != nil {
				t.Fatal(err)
			}
			if len(body.Alerts) == 1 && body.Alerts[0].Status == status {
				return body.Alerts[0]
			}
		}
	}
	g.Set(3)
	fired := next("firing")
	if fired.Labels["alertname"] != "TestPodCrashLooping" || fired.Labels["cluster"] != "prod" || fired.Labels["pod"] != "api-1" {
		t.Errorf("fired %+v", fired)
	}
	g.Set(0)
	resolved := next("resolved")
	if resolved.Fingerprint != fired.Fingerprint || !resolved.StartsAt.Equal(fired.StartsAt) {
		t.Errorf("resolved %+v, fired %+v: want the same fingerprint and start", resolved, fired)
	}
}
