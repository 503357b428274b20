package queue

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/metrics"
)

// TestSetAddRemove: a queue added to a running set is built like the
// others and found by Get and All; Add of a known cluster returns its
// queue; Remove takes it out of both, leaving the others in order.
func TestSetAddRemove(t *testing.T) {
	m := metrics.New(prometheus.NewRegistry(), metrics.BuildInfo{}, []string{"a", "b"})
	s := NewSet([]string{"a", "b"}, 2, m, time.Now)
	c := s.Add("c")
	if s.Get("c") != c || s.Add("c") != c {
		t.Fatal("an added queue is not the set's queue for its cluster")
	}
	if c.Cluster() != "c" {
		t.Errorf("added queue's cluster %q", c.Cluster())
	}
	for _, id := range []string{"1", "2", "3"} {
		c.Push(ev(id, "critical"))
	}
	if c.Len() != 2 {
		t.Errorf("added queue holds %d, want the set's capacity 2", c.Len())
	}
	s.Remove("a")
	if s.Get("a") != nil {
		t.Error("a removed queue is still found")
	}
	var names []string
	for _, q := range s.All() {
		names = append(names, q.Cluster())
	}
	if len(names) != 2 || names[0] != "b" || names[1] != "c" {
		t.Errorf("All() = %v, want [b c]", names)
	}
	if s.Depth() != 2 {
		t.Errorf("Depth() = %d, want 2", s.Depth())
	}
}
