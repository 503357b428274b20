package test

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/poll"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/scrape"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/notify"
)

// TestBinaryBudgetStopsLaunchesAndSurvivesRestart: agents that report 40
// cents each against a $2 day run exactly five times out of ten faults;
// the cost counter sums to $2; the pause reaches a webhook once; and a
// runner restarted on the same state directory starts no agent for five
// more faults, nor announces the pause again.
func TestBinaryBudgetStopsLaunchesAndSurvivesRestart(t *testing.T) {
	rcv := startReceiver(t, nil)
	srcs := startSources(t, "a")
	dir := t.TempDir()
	key := filepath.Join(dir, "signing-key")
	if err := os.WriteFile(key, []byte(signingKey), 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "notify.yaml")
	if err := os.WriteFile(file, []byte(fmt.Sprintf(`sinks:
  - name: ops
    type: webhook
    webhook: {url: %q, signingKeyFile: %q}
routes:
  - match: {kinds: [notice]}
    sinks: [ops]
`, rcv.srv.URL, key)), 0o600); err != nil {
		t.Fatal(err)
	}
	args := stateArgs(t, dir, "--cluster", "a="+srcs["a"].URL(), "--notify-file", file,
		"--budget-usd-per-day", "2", "--max-concurrent-agents", "1", "--max-queue-age", "3600")
	r := startRunner(t, args...)
	poll.Until(t, 15*time.Second, "subscription", func() bool { return srcs["a"].Subscribers() == 1 })
	for i := range 10 {
		emit(srcs["a"], "a", i, "paid-"+strconv.Itoa(i))
	}
	// Five runs, then the other five wait in the queue, refused.
	poll.Until(t, 60*time.Second, "five runs and the rest held", func() bool {
		ex := r.scrape()
		return scrape.Sum(ex, "kubernetes_mcp_runner_agents_completed_total") == 5 &&
			scrape.Sum(ex, "kubernetes_mcp_runner_launches_held_total", `reason="global_usd_per_day"`) > 0 &&
			scrape.Sum(ex, "kubernetes_mcp_runner_queue_depth") == 5
	})
	ex := r.scrape()
	if got := scrape.Sum(ex, "kubernetes_mcp_runner_agents_spawned_total"); got != 5 {
		t.Errorf("%v agents started, want exactly 5", got)
	}
	if got := scrape.Sum(ex, "kubernetes_mcp_runner_agent_cost_usd_total"); math.Abs(got-2.0) > 1e-9 {
		t.Errorf("agent_cost_usd_total sums to %v, want 2.0", got)
	}
	if got := scrape.Sum(ex, "kubernetes_mcp_runner_budget_remaining_usd", `scope="global"`); got != 0 {
		t.Errorf("budget_remaining_usd{scope=global} %v, want 0", got)
	}
	poll.Until(t, 30*time.Second, "the pause notice", func() bool { return budgetNotices(rcv)[notify.NoticeBudgetPaused] >= 1 })
	if n := strings.Count(r.logs.String(), "Triage paused: budget spent"); n != 1 {
		t.Errorf("pause logged %d times, want once", n)
	}
	if err := r.sigterm(t); err != nil {
		t.Fatalf("shutdown: %v", err)
	}

	// The same state directory: the day's $2 is still spent.
	r = startRunner(t, args...)
	poll.Until(t, 15*time.Second, "subscription again", func() bool { return srcs["a"].Subscribers() == 1 })
	for i := 10; i < 15; i++ {
		emit(srcs["a"], "a", i, "paid-"+strconv.Itoa(i))
	}
	poll.Until(t, 60*time.Second, "ten faults held", func() bool {
		ex := r.scrape()
		return scrape.Sum(ex, "kubernetes_mcp_runner_queue_depth") == 10 &&
			scrape.Sum(ex, "kubernetes_mcp_runner_launches_held_total", `reason="global_usd_per_day"`) > 0
	})
	ex = r.scrape()
	if got := scrape.Sum(ex, "kubernetes_mcp_runner_agents_spawned_total"); got != 0 {
		t.Errorf("%v agents started after the restart, want none", got)
	}
	if strings.Contains(r.logs.String(), "Triage paused") || strings.Contains(r.logs.String(), "Triage resumed") {
		t.Error("the restarted runner announced a change; the pause was reported before the restart")
	}
	if got := budgetNotices(rcv); got[notify.NoticeBudgetPaused] != 1 || got[notify.NoticeBudgetResumed] != 0 {
		t.Errorf("budget notices %v, want one pause", got)
	}
}

func budgetNotices(h *hookReceiver) map[string]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string]int{}
	for _, n := range h.handled {
		if n.Notice != nil {
			out[n.Notice.Type]++
		}
	}
	return out
}
