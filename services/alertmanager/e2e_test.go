//go:build e2e

package alertmanager_test

import (
	"context"
	"flag"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/alertmanagertest"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/services/alertmanager"
)

var update = flag.Bool("update", false, "rewrite testdata/*.json with notifications from a real Alertmanager")

// crashLooping is a KubePodCrashLooping alert as kube-prometheus-stack's
// rules raise it.
func crashLooping(pod string, startsAt, endsAt time.Time) alertmanagertest.Alert {
	return alertmanagertest.Alert{
		Labels: map[string]string{
			"alertname": "KubePodCrashLooping", "cluster": "prod", "container": "api",
			"endpoint": "http", "instance": "10.42.0.17:8080", "job": "kube-state-metrics",
			"namespace": "shop", "pod": pod, "reason": "CrashLoopBackOff",
			"service": "prometheus-kube-state-metrics", "severity": "warning",
		},
		Annotations: map[string]string{
			"description": "Pod shop/" + pod + " (api) is in waiting state (reason: \"CrashLoopBackOff\").",
			"runbook_url": "https://runbooks.prometheus-operator.dev/runbooks/kubernetes/kubepodcrashlooping",
			"summary":     "Pod is crash looping.",
		},
		StartsAt:     startsAt,
		EndsAt:       endsAt,
		GeneratorURL: "http://prometheus.example:9090/graph?g0.expr=max_over_time%28kube_pod_container_status_waiting_reason%7Breason%3D%22CrashLoopBackOff%22%7D%5B5m%5D%29+%3E%3D+1&g0.tab=1",
	}
}

// TestRealAlertmanagerNotifications drives a real Alertmanager through
// firing, repeat, grouping, resolution and re-firing, and checks what the
// mapping makes of each notification: repeats keep their fault id, a
// re-fire after resolution gets a new one. With -update it records the
// notifications into testdata/.
func TestRealAlertmanagerNotifications(t *testing.T) {
	rcv := alertmanagertest.NewReceiver()
	defer rcv.Close()
	am := alertmanagertest.Start(t, alertmanagertest.Config{
		WebhookURL:     rcv.URL,
		BearerToken:    "recorded-token",
		GroupBy:        []string{"alertname", "cluster"},
		GroupWait:      time.Second,
		GroupInterval:  time.Second,
		RepeatInterval: 2 * time.Second,
	})
	t.Logf("recording from %s", am.Version)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	clusters := map[string]bool{"prod": true}
	mapping := alertmanager.DefaultMapping()

	seen := 0
	// await returns the next notification whose mapped alerts satisfy ok.
	await := func(what string, ok func(n alertmanager.Notification, fs []alertmanager.Fault) bool) ([]byte, []alertmanager.Fault) {
		t.Helper()
		for {
			got, err := rcv.Next(ctx, seen)
			if err != nil {
				t.Fatalf("waiting for %s: %v", what, err)
			}
			seen++
			n, err := alertmanager.DecodeBytes(got.Body)
			if err != nil {
				t.Fatalf("real notification does not decode: %v\n%s", err, got.Body)
			}
			if got.Header.Get("Content-Type") != "application/json" || got.Header.Get("Authorization") != "Bearer recorded-token" {
				t.Fatalf("headers %v", got.Header)
			}
			var fs []alertmanager.Fault
			for _, a := range n.Alerts {
				f, o := mapping.Map(a, clusters)
				if o != "" {
					t.Fatalf("alert not mapped (%s): %+v", o, a)
				}
				fs = append(fs, f)
			}
			if ok(n, fs) {
				if *update {
					name := filepath.Join("testdata", what+".json")
					if err := os.WriteFile(name, got.Body, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				return got.Body, fs
			}
		}
	}
	statuses := func(fs []alertmanager.Fault, want ...string) bool {
		if len(fs) != len(want) {
			return false
		}
		for i := range fs {
			if fs[i].Status != want[i] {
				return false
			}
		}
		return true
	}
	byPod := func(fs []alertmanager.Fault, pod string) alertmanager.Fault {
		for _, f := range fs {
			if f.Resource.Name == pod {
				return f
			}
		}
		t.Fatalf("no fault for pod %s in %+v", pod, fs)
		return alertmanager.Fault{}
	}
	const podA, podB = "api-7d9c8b6f5-x2k4q", "api-7d9c8b6f5-m8zvd"
	startA := time.Now().Add(-time.Minute).Truncate(time.Millisecond)

	if err := am.Post(ctx, crashLooping(podA, startA, time.Time{})); err != nil {
		t.Fatal(err)
	}
	_, fired := await("firing", func(n alertmanager.Notification, fs []alertmanager.Fault) bool {
		return statuses(fs, "firing")
	})
	idA := fired[0].FaultID
	if fired[0].Resource != (fault.Resource{APIVersion: "v1", Kind: "Pod", Name: podA, Namespace: "shop"}) ||
		fired[0].FaultType != "KubePodCrashLooping" || fired[0].Severity != "warning" || fired[0].Cluster != "prod" {
		t.Errorf("firing alert mapped to %+v", fired[0])
	}

	_, repeated := await("repeated", func(n alertmanager.Notification, fs []alertmanager.Fault) bool {
		return statuses(fs, "firing")
	})
	if repeated[0].FaultID != idA {
		t.Errorf("repeat has fault id %s, first notification %s: repeats must be duplicates", repeated[0].FaultID, idA)
	}

	if err := am.Post(ctx, crashLooping(podB, time.Now().Truncate(time.Millisecond), time.Time{})); err != nil {
		t.Fatal(err)
	}
	_, grouped := await("grouped", func(n alertmanager.Notification, fs []alertmanager.Fault) bool {
		return statuses(fs, "firing", "firing")
	})
	if byPod(grouped, podA).FaultID != idA || byPod(grouped, podB).FaultID == idA {
		t.Errorf("grouped ids: %s %s, first %s", byPod(grouped, podA).FaultID, byPod(grouped, podB).FaultID, idA)
	}
	idB := byPod(grouped, podB).FaultID

	// Resolving A alone gives a notification holding A resolved and B
	// still firing; once it is delivered, Alertmanager forgets A.
	if err := am.Post(ctx, crashLooping(podA, startA, time.Now())); err != nil {
		t.Fatal(err)
	}
	_, mixed := await("partly-resolved", func(n alertmanager.Notification, fs []alertmanager.Fault) bool {
		return len(fs) == 2 && byPod(fs, podA).Status == "resolved"
	})
	if byPod(mixed, podA).FaultID != idA || byPod(mixed, podB).Status != "firing" {
		t.Errorf("partly resolved: %+v", mixed)
	}

	startB := byPod(grouped, podB).Timestamp
	if err := am.Post(ctx, crashLooping(podB, startB, time.Now())); err != nil {
		t.Fatal(err)
	}
	_, resolved := await("resolved", func(n alertmanager.Notification, fs []alertmanager.Fault) bool {
		return n.Status == "resolved" && statuses(fs, "resolved")
	})
	if resolved[0].FaultID != idB {
		t.Errorf("resolved fault id %s, fired as %s", resolved[0].FaultID, idB)
	}

	if err := am.Post(ctx, crashLooping(podA, time.Now().Truncate(time.Millisecond), time.Time{})); err != nil {
		t.Fatal(err)
	}
	_, refired := await("refired", func(n alertmanager.Notification, fs []alertmanager.Fault) bool {
		return statuses(fs, "firing")
	})
	if refired[0].Fingerprint != fired[0].Fingerprint || refired[0].FaultID == idA {
		t.Errorf("re-fired alert: fingerprint %s (was %s), fault id %s (was %s): want same fingerprint, new id",
			refired[0].Fingerprint, fired[0].Fingerprint, refired[0].FaultID, idA)
	}
}

// TestRealAlertmanagerAuthenticates points real Alertmanagers, one with a
// bearer token and one with basic auth, at the endpoint and checks their
// notifications are accepted and submitted.
func TestRealAlertmanagerAuthenticates(t *testing.T) {
	dir := t.TempDir()
	token, password := filepath.Join(dir, "token"), filepath.Join(dir, "password")
	if err := os.WriteFile(token, []byte("t0ken\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(password, []byte("pa55\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		auth alertmanager.Auth
		cfg  alertmanagertest.Config
	}{
		{"bearer", alertmanager.Auth{BearerTokenFile: token}, alertmanagertest.Config{BearerToken: "t0ken"}},
		{"basic", alertmanager.Auth{BasicAuthUsername: "am", BasicAuthPasswordFile: password},
			alertmanagertest.Config{BasicAuthUser: "am", BasicAuthPassword: "pa55"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sub := newSubmitter()
			m := newCounters()
			h, err := alertmanager.NewHandler(alertmanager.Options{
				Auth: tc.auth, Mapping: alertmanager.DefaultMapping(), Clusters: []string{"prod"},
				Submitter: sub, Metrics: m, Logger: slog.New(slog.DiscardHandler),
			})
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(h)
			defer srv.Close()
			tc.cfg.WebhookURL = srv.URL + alertmanager.Path
			am := alertmanagertest.Start(t, tc.cfg)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := am.Post(ctx, crashLooping("api-1", time.Now(), time.Time{})); err != nil {
				t.Fatal(err)
			}
			for m.notification(alertmanager.Accepted) == 0 {
				if m.notification(alertmanager.ReasonUnauthorized) > 0 {
					t.Fatal("real Alertmanager's credentials refused")
				}
				select {
				case <-ctx.Done():
					t.Fatalf("no notification accepted: %v", m)
				case <-time.After(50 * time.Millisecond):
				}
			}
			if got := sub.submitted(); len(got) != 1 || got[0].Resource.Name != "api-1" {
				t.Errorf("submitted %+v", got)
			}
		})
	}
}

// TestRealAlertmanagerRetriesAfter503: while the store fails, the endpoint
// answers 503; Alertmanager sends the notification again, and the fault
// is queued exactly once.
func TestRealAlertmanagerRetriesAfter503(t *testing.T) {
	sub := newSubmitter()
	sub.setFailing(true)
	m := newCounters()
	h, err := alertmanager.NewHandler(alertmanager.Options{
		Auth:    alertmanager.Auth{BearerTokenFile: secretFile(t, "token", "t0ken")},
		Mapping: alertmanager.DefaultMapping(), Clusters: []string{"prod"},
		Submitter: sub, Metrics: m, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	am := alertmanagertest.Start(t, alertmanagertest.Config{WebhookURL: srv.URL + alertmanager.Path, BearerToken: "t0ken"})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := am.Post(ctx, crashLooping("api-1", time.Now(), time.Time{})); err != nil {
		t.Fatal(err)
	}
	waitCount := func(what string, f func() bool) {
		t.Helper()
		for !f() {
			select {
			case <-ctx.Done():
				t.Fatalf("waiting for %s: counted %v", what, m)
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	waitCount("a 503", func() bool { return m.notification(alertmanager.ReasonStoreUnavailable) > 0 })
	sub.setFailing(false)
	waitCount("the retry", func() bool { return m.notification(alertmanager.Accepted) > 0 })
	if m.outcome("prod", "queued") != 1 || m.outcome("prod", "duplicate") != 0 {
		t.Errorf("counted %v, want one queued fault", m)
	}
}
