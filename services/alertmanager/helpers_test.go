package alertmanager_test

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/services/alertmanager"
)

// submitter stands in for intake and the durable queue: it queues each new
// fault id once, answers duplicate for ids it holds, and fails every call
// while failing is set.
type submitter struct {
	mu      sync.Mutex
	failing bool
	queued  map[string]bool // cluster/faultID → still queued
	running map[string]bool
	got     []alertmanager.Fault
	resolve []string
}

var errStore = errors.New("state store: write failed")

func newSubmitter() *submitter {
	return &submitter{queued: map[string]bool{}, running: map[string]bool{}}
}

func (s *submitter) Submit(_ context.Context, fs []alertmanager.Fault) ([]alertmanager.Outcome, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failing {
		return nil, errStore
	}
	out := make([]alertmanager.Outcome, len(fs))
	for i, f := range fs {
		s.got = append(s.got, f)
		key := f.Cluster + "/" + f.FaultID
		if s.queued[key] || s.running[key] {
			out[i] = "duplicate"
			continue
		}
		s.queued[key] = true
		out[i] = "queued"
	}
	return out, nil
}

func (s *submitter) Resolve(_ context.Context, cluster, id string) (bool, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failing {
		return false, false, errStore
	}
	key := cluster + "/" + id
	s.resolve = append(s.resolve, key)
	if s.queued[key] {
		delete(s.queued, key)
		return true, false, nil
	}
	return false, s.running[key], nil
}

// start moves a queued fault to running, as dispatch would.
func (s *submitter) start(cluster, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.queued, cluster+"/"+id)
	s.running[cluster+"/"+id] = true
}

func (s *submitter) setFailing(v bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failing = v
}

func (s *submitter) submitted() []alertmanager.Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]alertmanager.Fault(nil), s.got...)
}

func (s *submitter) resolved() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.resolve...)
}

// counters implements alertmanager.Metrics over a map.
type counters struct {
	mu sync.Mutex
	n  map[string]int
}

func newCounters() *counters { return &counters{n: map[string]int{}} }

func (c *counters) add(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n[key]++
}

func (c *counters) get(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[key]
}

func (c *counters) Notification(result string) { c.add("notification/" + result) }
func (c *counters) AlertReceived(cluster, severity string) {
	c.add("received/" + cluster + "/" + severity)
}
func (c *counters) AlertOutcome(cluster string, o alertmanager.Outcome) {
	c.add("outcome/" + cluster + "/" + string(o))
}

func (c *counters) notification(result string) int { return c.get("notification/" + result) }
func (c *counters) outcome(cluster string, o alertmanager.Outcome) int {
	return c.get("outcome/" + cluster + "/" + string(o))
}

func (c *counters) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return fmt.Sprint(c.n)
}
