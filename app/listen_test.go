package app

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/config"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/httpserver"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/testagent"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/metrics"
)

// TestPortInUseNamesTheOptionAndAFreePort: every listener that finds its
// address taken stops the runner at start with an error that keeps the
// cause, names the flag and environment variable that set the address,
// and suggests a value that was free; it is not a configuration error
// (exit 1: the port may free up).
func TestPortInUseNamesTheOptionAndAFreePort(t *testing.T) {
	cases := []struct {
		flag, env string
		set       func(c *config.Config, addr string, port int)
	}{
		{"--health-port", "HEALTH_PORT", func(c *config.Config, _ string, p int) { c.HealthPort = p }},
		{"--metrics-port", "METRICS_PORT", func(c *config.Config, _ string, p int) { c.MetricsPort = p }},
		{"--ui-address", "UI_ADDRESS", func(c *config.Config, a string, _ int) { c.UIAddress = a }},
		{"--intake-address", "INTAKE_ADDRESS", func(c *config.Config, a string, _ int) { c.IntakeAddress = a }},
		{"--debug-address", "DEBUG_ADDRESS", func(c *config.Config, a string, _ int) { c.DebugAddress = a }},
	}
	for _, tc := range cases {
		t.Run(tc.flag, func(t *testing.T) {
			taken, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer taken.Close()
			addr := taken.Addr().String()
			port := taken.Addr().(*net.TCPAddr).Port

			dir := t.TempDir()
			token := filepath.Join(dir, "token")
			if err := os.WriteFile(token, []byte("secret-token"), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, err := config.Parse([]string{
				"--cluster", "prod=http://127.0.0.1:1/mcp", "--agent-command", os.Args[0], "--agent-arg", testagent.Arg,
				"--workspace-root", filepath.Join(dir, "ws"), "--state-dir", filepath.Join(dir, "state"),
				"--health-address", "127.0.0.1", "--metrics-address", "127.0.0.1", "--ui-address", "127.0.0.1:0",
				"--intake-address", "127.0.0.1:0", "--intake-bearer-token-file", token,
			}, func(string) string { return "" })
			if err != nil {
				t.Fatal(err)
			}
			cfg.HealthPort, cfg.MetricsPort = 0, 0
			tc.set(&cfg, addr, port)

			// Should the runner start after all, it stops at once.
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			err = Run(ctx, cfg, Deps{
				Logger: slog.New(slog.DiscardHandler), Notify: func(string) {}, Registry: metrics.NewRegistry(),
				Started: func(_, _, _ *httpserver.Server) { cancel() },
			})
			if err == nil {
				t.Fatal("Run started on an address in use")
			}
			msg := err.Error()
			for _, want := range []string{"address already in use", tc.flag + " (" + tc.env + ")", strconv.Itoa(port), "e.g. " + tc.flag + " "} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q lacks %q", msg, want)
				}
			}
			var cfgErr ConfigError
			if errors.As(err, &cfgErr) {
				t.Errorf("a port in use is a configuration error (exit 2): %v", err)
			}
			// The suggestion was free when it was made.
			i := strings.Index(msg, "e.g. "+tc.flag+" ")
			if i < 0 {
				return
			}
			suggested := strings.Fields(msg[i+len("e.g. "+tc.flag+" "):])[0]
			if !strings.Contains(suggested, ":") {
				suggested = "127.0.0.1:" + suggested
			}
			if suggested == addr {
				t.Fatalf("suggested the port in use, %s", suggested)
			}
			ln, err := net.Listen("tcp", suggested)
			if err != nil {
				t.Logf("the suggested %s was taken since (another test?): %v", suggested, err)
				return
			}
			ln.Close()
		})
	}
}
