package faultsource

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/sampleagent"
)

// The incident states the demo shows once each (its --mix).
const (
	ShowStorm    = "storm"    // a node storm grouped into one incident
	ShowSuccess  = "success"  // a report written
	ShowFailure  = "failure"  // the agent exits 1
	ShowDelivery = "delivery" // the webhook refuses the first delivery, the retry lands
	ShowBreaker  = "breaker"  // consecutive failures open the breaker, a probe closes it
	ShowTimeout  = "timeout"  // the agent hangs until the runner's timeout
)

// ShowAll is the demo's default mix, in the order it shows them.
var ShowAll = []string{ShowStorm, ShowSuccess, ShowFailure, ShowDelivery, ShowBreaker, ShowTimeout}

// FlakyPrefix names the resource of the fault whose notification the
// demo's webhook receiver refuses once.
const FlakyPrefix = "flaky-"

// ParseMix reads a --mix value: states from ShowAll separated by commas,
// "all", or "none" (only the steady stream).
func ParseMix(v string) ([]string, error) {
	switch strings.TrimSpace(v) {
	case "all":
		return slices.Clone(ShowAll), nil
	case "none", "":
		return nil, nil
	}
	var out []string
	for _, s := range strings.Split(v, ",") {
		s = strings.TrimSpace(s)
		if !slices.Contains(ShowAll, s) {
			return nil, fmt.Errorf("%q: want all, none, or some of %s", s, strings.Join(ShowAll, ","))
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out, nil
}

// Showcase is a scripted start for the demo: one fault for each state of
// its Mix, timed so that each outcome is its own.
type Showcase struct {
	// Sources and Clusters are the simulated clusters, in the same order.
	Sources  []*Server
	Clusters []string
	Mix      []string
	// BreakerThreshold is the runner's --circuit-breaker-threshold: the
	// burst that opens the breaker has exactly that many failing faults,
	// so no failing one is left queued to fail the probe.
	BreakerThreshold int
	// Settle is how long the first incidents take to finish (group wait
	// plus the agent's work) before the burst; Cooldown the breaker's.
	Settle, Cooldown time.Duration
}

// Run emits the showcase's faults and returns once the steady stream may
// start: at once without a breaker step, else once the probe has closed
// the breaker (a fault sent while it is open is dropped, and one that
// succeeds amid the burst would keep it closed).
func (s Showcase) Run(ctx context.Context) error {
	if len(s.Sources) == 0 || len(s.Sources) != len(s.Clusters) {
		return fmt.Errorf("showcase: %d sources for %d clusters", len(s.Sources), len(s.Clusters))
	}
	// Spread over the clusters: each runs one agent at a time, and the
	// hanging one should hold up no other step.
	at := func(i int) (*Server, string) { return s.Sources[i%len(s.Sources)], s.Clusters[i%len(s.Clusters)] }
	emit := func(i int, n int, faultType, severity, name string) {
		src, cluster := at(i)
		src.Emit(DemoFault(cluster, n, faultType, severity, name))
	}
	has := func(st string) bool { return slices.Contains(s.Mix, st) }
	if has(ShowStorm) {
		src, _ := at(0)
		src.EmitNodeStorm(2, 3)
	}
	if has(ShowSuccess) {
		emit(1, 9001, fault.TypeCrashLoop, "warning", "checkout-api")
	}
	if has(ShowFailure) {
		emit(1, 9002, fault.TypeJobFailure, "critical", sampleagent.FailPrefix+"nightly-report")
	}
	if has(ShowDelivery) {
		emit(2, 9003, fault.TypeDeploymentFailure, "warning", FlakyPrefix+"frontend")
	}
	if has(ShowTimeout) && !has(ShowBreaker) {
		emit(2, 9004, fault.TypePodCrash, "warning", sampleagent.HangPrefix+"batch-worker")
	}
	if !has(ShowBreaker) {
		return nil
	}
	if !sleep(ctx, s.Settle) {
		return ctx.Err()
	}
	// Threshold failures in a row on one cluster, while nothing else runs.
	for i := range max(s.BreakerThreshold, 1) {
		emit(1, 9100+i, fault.TypeCrashLoop, "critical", fmt.Sprintf("%sbroken-%d", sampleagent.FailPrefix, i+1))
	}
	if !sleep(ctx, s.Cooldown+s.Settle) {
		return ctx.Err()
	}
	// Half-open now: this one is the probe, and its success closes it.
	emit(1, 9200, fault.TypeCrashLoop, "warning", "probe-api")
	if has(ShowTimeout) {
		// Once the probe closed the breaker: until then intake drops new
		// faults, and a timeout must not be what the probe runs.
		if !sleep(ctx, s.Settle) {
			return ctx.Err()
		}
		emit(2, 9004, fault.TypePodCrash, "warning", sampleagent.HangPrefix+"batch-worker")
	}
	return nil
}

// DemoFault is Fault with the resource named name (whose prefix may pick
// the sample agent's outcome) and a fault id of its own.
func DemoFault(cluster string, n int, faultType, severity, name string) fault.Event {
	ev := Fault(cluster, n, faultType, severity)
	ev.Resource.Name = name
	sum := sha256.Sum256([]byte(cluster + "/" + faultType + "/" + name))
	ev.FaultID = hex.EncodeToString(sum[:8])
	return ev
}

// StreamFault is the demo's steady stream: fault n of a mix of types and
// severities; failureRate of them (0-1) go to a resource the sample agent
// fails on.
func StreamFault(cluster string, n int, failureRate float64) fault.Event {
	types := []string{fault.TypeCrashLoop, fault.TypePodCrash, fault.TypeNodeUnhealthy, fault.TypeDeploymentFailure, fault.TypeJobFailure}
	severities := []string{"critical", "warning", "warning", "info"}
	ev := Fault(cluster, n, types[n%len(types)], severities[rand.IntN(len(severities))])
	if failureRate > 0 && rand.Float64() < failureRate {
		ev.Resource.Name = sampleagent.FailPrefix + ev.Resource.Name
	}
	return ev
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
