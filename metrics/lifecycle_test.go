package metrics

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestRemoveClusterLeavesNoSeries: every family labelled by cluster is
// covered by RemoveCluster, including families added later.
func TestRemoveClusterLeavesNoSeries(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg, BuildInfo{}, []string{"keep", "gone"})
	m.RemoveCluster("gone")
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range families {
		for _, s := range mf.GetMetric() {
			for _, lp := range s.GetLabel() {
				if lp.GetName() == "cluster" && lp.GetValue() == "gone" {
					t.Errorf("%s keeps a series of the removed cluster", mf.GetName())
				}
			}
		}
	}
}
