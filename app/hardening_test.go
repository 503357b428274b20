package app

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/faultsource"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/poll"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/scrape"
)

// A fault whose fields hold a NUL byte cannot become an agent's
// environment. From either source it is malformed at intake, counted, and
// never a launch that fails: more of them than the breaker's threshold
// leave the breaker closed for every cluster.
func TestNULBearingFaultsFromBothSourcesLeaveTheBreakerClosed(t *testing.T) {
	src := faultsource.Started(t, "prod")
	dir := t.TempDir()
	d := startAlertDaemon(t, dir, "clusters:\n  - name: prod\n    endpoint: "+src.URL()+"\n")
	poll.Until(t, 30*time.Second, "the session to subscribe", func() bool { return src.Subscribers() == 1 })

	const each = 6 // over the default breaker threshold of 5
	for i := range each {
		ev := faultsource.Fault("prod", i, fault.TypeCrashLoop, "critical")
		ev.Resource.Name = fmt.Sprintf("api-%d\x00injected", i)
		src.Emit(ev)
	}
	body, err := os.ReadFile(filepath.Join("..", "services", "alertmanager", "testdata", "firing.json"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range each {
		alert := bytes.ReplaceAll(body, []byte("api-7d9c8b6f5-x2k4q"), []byte(fmt.Sprintf(`api-%d\u0000injected`, i)))
		if code := d.post(alert, "Bearer s3cret"); code != http.StatusOK {
			t.Fatalf("alert %d: %d, want 200", i, code)
		}
	}
	poll.Until(t, 30*time.Second, "every NUL-bearing fault to be filtered as malformed", func() bool {
		return scrape.Sum(scrape.Get(d.metricsURL), "kubernetes_mcp_runner_events_filtered_total", `reason="malformed"`) == 2*each
	})
	text := scrape.Get(d.metricsURL)
	if v := scrape.Sum(text, "kubernetes_mcp_runner_circuit_breaker_state"); v != 0 {
		t.Errorf("circuit breaker state %v, want closed (0)", v)
	}
	if v := scrape.Sum(text, "kubernetes_mcp_runner_agents_spawned_total"); v != 0 {
		t.Errorf("%v agents spawned for faults no agent can be given", v)
	}
}
