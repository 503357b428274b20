package app

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/config"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/httpserver"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/scrape"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/testlog"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/metrics"
)

// inProcess is the daemon's run path started in this process on ephemeral
// loopback ports, with its logs collected.
type inProcess struct {
	metricsURL, healthURL string
	uiURL                 string // the incidents page server
	logs                  *testlog.Buffer
	stop                  func() error
}

// startInProcess runs Run with cfg (ports are made ephemeral) and
// deps.Reload, and stops it when the test ends.
func startInProcess(t *testing.T, cfg config.Config, reload func() (config.Config, error)) *inProcess {
	t.Helper()
	return startInProcessWith(t, cfg, reload, nil)
}

// startInProcessWith is startInProcess with hangup in place of SIGHUP.
func startInProcessWith(t *testing.T, cfg config.Config, reload func() (config.Config, error), hangup chan os.Signal) *inProcess {
	t.Helper()
	cfg.HealthPort, cfg.MetricsPort = 0, 0
	cfg.HealthAddress, cfg.MetricsAddress, cfg.UIAddress = "127.0.0.1", "127.0.0.1", "127.0.0.1:0"
	d := &inProcess{logs: &testlog.Buffer{}}
	servers := make(chan [3]*httpserver.Server, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, cfg, Deps{
			Logger:   slog.New(slog.NewJSONHandler(d.logs, nil)),
			Notify:   func(string) {},
			Registry: metrics.NewRegistry(),
			Started:  func(m, h, u *httpserver.Server) { servers <- [3]*httpserver.Server{m, h, u} },
			Reload:   reload,
			Hangup:   hangup,
		})
	}()
	var s [3]*httpserver.Server
	select {
	case s = <-servers:
	case err := <-done:
		cancel()
		t.Fatalf("Run: %v\n%s", err, d.logs.String())
	}
	<-s[0].Listening()
	<-s[1].Listening()
	d.metricsURL, d.healthURL = "http://"+s[0].Addr()+"/metrics", "http://"+s[1].Addr()
	if s[2] != nil {
		<-s[2].Listening()
		d.uiURL = "http://" + s[2].Addr()
	}
	var once bool
	var err error
	d.stop = func() error {
		if once {
			return err
		}
		once = true
		cancel()
		select {
		case err = <-done:
		case <-time.After(time.Minute):
			t.Error("Run did not return after its context ended")
		}
		return err
	}
	t.Cleanup(func() {
		_ = d.stop()
		if t.Failed() {
			t.Logf("runner logs:\n%s", d.logs.String())
		}
	})
	return d
}

// metric sums the series of name whose labels include every match.
func (d *inProcess) metric(name string, match ...string) float64 {
	return scrape.Sum(scrape.Get(d.metricsURL), name, match...)
}
