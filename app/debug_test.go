package app

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/config"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/httpserver"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/faultsource"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/testagent"
)

// TestProfilingEndpointIsOptIn: without --debug-address no server serves
// /debug/pprof (the metrics and health ports answer 404); with it, a server
// of its own on that address does.
func TestProfilingEndpointIsOptIn(t *testing.T) {
	src := faultsource.New("prod")
	if err := src.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer src.Stop()
	for _, debugAddr := range []string{"", "127.0.0.1:0"} {
		t.Run("debug-address="+debugAddr, func(t *testing.T) {
			dir := t.TempDir()
			args := []string{
				"--cluster", "prod=" + src.URL(), "--agent-command", os.Args[0], "--agent-arg", testagent.Arg,
				"--workspace-root", filepath.Join(dir, "ws"), "--state-dir", "",
				"--health-address", "127.0.0.1", "--metrics-address", "127.0.0.1",
			}
			if debugAddr != "" {
				args = append(args, "--debug-address", debugAddr)
			}
			cfg, err := config.Parse(args, func(string) string { return "" })
			if err != nil {
				t.Fatal(err)
			}
			cfg.HealthPort, cfg.MetricsPort = 0, 0
			ctx, cancel := context.WithCancel(context.Background())
			servers := make(chan []*httpserver.Server, 1)
			var debug *httpserver.Server
			done := make(chan error, 1)
			go func() {
				done <- Run(ctx, cfg, Deps{
					Logger: slog.New(slog.DiscardHandler), Notify: func(string) {},
					DebugStarted: func(d *httpserver.Server) { debug = d },
					Started:      func(m, h, _ *httpserver.Server) { servers <- []*httpserver.Server{m, h} },
				})
			}()
			defer func() {
				cancel()
				select {
				case <-done:
				case <-time.After(time.Minute):
					t.Error("the runner did not stop")
				}
			}()
			s := <-servers
			for _, srv := range s {
				<-srv.Listening()
				if code, _ := get(t, "http://"+srv.Addr()+"/debug/pprof/"); code != http.StatusNotFound {
					t.Errorf("%s serves /debug/pprof/ with %d, want 404", srv, code)
				}
			}
			if debugAddr == "" {
				if debug != nil {
					t.Fatal("a profiling server was built without --debug-address")
				}
				return
			}
			if debug == nil {
				t.Fatal("no profiling server with --debug-address")
			}
			<-debug.Listening()
			code, body := get(t, "http://"+debug.Addr()+"/debug/pprof/")
			if code != http.StatusOK || !strings.Contains(body, "goroutine") {
				t.Fatalf("/debug/pprof/ answered %d: %.200s", code, body)
			}
			if code, body := get(t, "http://"+debug.Addr()+"/debug/pprof/goroutine?debug=1"); code != http.StatusOK || !strings.Contains(body, "goroutine profile") {
				t.Fatalf("goroutine profile answered %d: %.200s", code, body)
			}
		})
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
