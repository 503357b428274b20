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
