package metrics

import (
	"math"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// The families labelled by cluster alone that every configured cluster
// has from start (the cardinality budget's pre-created series) keep their
// values in one record per cluster instead of one client_golang child per
// family and cluster. A child carries its own label pairs, created
// timestamp, self-collector and map entry: about 370 bytes each, 3.7 KiB
// for a cluster's ten series, most of the heap an idle cluster costs
// beyond its session. A record is the ten values and one label pair
// shared by them all (BenchmarkClusterSeries).
const (
	idxQueued = iota
	idxExpired
	idxDequeued
	idxQueueDepth
	idxSpawned
	idxTimeout
	idxActive
	idxBreakerDropped
	idxConnectionsActive
	idxDisconnectedSeconds
	clusterFamilies
)

// clusterRecords holds the records of every cluster that has series.
type clusterRecords struct {
	mu sync.RWMutex
	m  map[string]*clusterRecord
}

// clusterRecord is one cluster's values, as float64 bits, and the label
// pair every one of its series is exposed with.
type clusterRecord struct {
	label []*dto.LabelPair
	vals  [clusterFamilies]atomic.Uint64
}

func newClusterRecords() *clusterRecords {
	return &clusterRecords{m: make(map[string]*clusterRecord)}
}

// get returns cluster's record, creating it (and so all its series) on
// first use.
func (s *clusterRecords) get(cluster string) *clusterRecord {
	s.mu.RLock()
	r := s.m[cluster]
	s.mu.RUnlock()
	if r != nil {
		return r
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r = s.m[cluster]; r == nil {
		name, value := "cluster", cluster
		r = &clusterRecord{label: []*dto.LabelPair{{Name: &name, Value: &value}}}
		s.m[cluster] = r
	}
	return r
}

// remove drops cluster's record: its series leave every family at once.
func (s *clusterRecords) remove(cluster string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.m[cluster]
	delete(s.m, cluster)
	return ok
}

// ClusterVec is one family of the per-cluster record: a counter or a
// gauge labelled by cluster alone. Its series are those of every cluster
// with a record, so a cluster added to one family is in them all.
type ClusterVec struct {
	records *clusterRecords
	idx     int
	desc    *prometheus.Desc
	kind    prometheus.ValueType
}

func newClusterVec(records *clusterRecords, idx int, kind prometheus.ValueType, name, help string) *ClusterVec {
	return &ClusterVec{
		records: records,
		idx:     idx,
		desc:    prometheus.NewDesc(prometheus.BuildFQName(Namespace, "", name), help, []string{"cluster"}, nil),
		kind:    kind,
	}
}

// WithLabelValues returns cluster's series of this family.
func (v *ClusterVec) WithLabelValues(cluster string) *ClusterSeries {
	return &ClusterSeries{v: v, r: v.records.get(cluster)}
}

// DeletePartialMatch removes the series of the cluster the labels name
// from every family of the record (RemoveCluster's interface).
func (v *ClusterVec) DeletePartialMatch(labels prometheus.Labels) int {
	c, ok := labels["cluster"]
	if !ok || len(labels) != 1 || !v.records.remove(c) {
		return 0
	}
	return 1
}

// Describe implements prometheus.Collector.
func (v *ClusterVec) Describe(ch chan<- *prometheus.Desc) { ch <- v.desc }

// Collect implements prometheus.Collector: one series per cluster record.
func (v *ClusterVec) Collect(ch chan<- prometheus.Metric) {
	v.records.mu.RLock()
	series := make([]ClusterSeries, 0, len(v.records.m))
	for _, r := range v.records.m {
		series = append(series, ClusterSeries{v: v, r: r})
	}
	v.records.mu.RUnlock()
	for i := range series {
		ch <- &series[i]
	}
}

// ClusterSeries is one cluster's series of a ClusterVec. It is a
// prometheus.Counter or Gauge as its family is.
type ClusterSeries struct {
	v *ClusterVec
	r *clusterRecord
}

func (s *ClusterSeries) val() *atomic.Uint64 { return &s.r.vals[s.v.idx] }

// Add adds d; a counter refuses to go down, as client_golang's does.
func (s *ClusterSeries) Add(d float64) {
	if s.v.kind == prometheus.CounterValue && d < 0 {
		panic("counter cannot decrease in value")
	}
	v := s.val()
	for {
		old := v.Load()
		if v.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+d)) {
			return
		}
	}
}

// Inc adds one.
func (s *ClusterSeries) Inc() { s.Add(1) }

// Set sets a gauge's value.
func (s *ClusterSeries) Set(x float64) { s.val().Store(math.Float64bits(x)) }

// Dec subtracts one from a gauge.
func (s *ClusterSeries) Dec() { s.Sub(1) }

// Sub subtracts d from a gauge.
func (s *ClusterSeries) Sub(d float64) { s.Add(-d) }

// Value is the series' current value.
func (s *ClusterSeries) Value() float64 { return math.Float64frombits(s.val().Load()) }

// Desc implements prometheus.Metric.
func (s *ClusterSeries) Desc() *prometheus.Desc { return s.v.desc }

// Write implements prometheus.Metric. The label pair is shared by the
// cluster's series and only read by the encoders.
func (s *ClusterSeries) Write(out *dto.Metric) error {
	out.Label = s.r.label
	x := s.Value()
	if s.v.kind == prometheus.CounterValue {
		out.Counter = &dto.Counter{Value: &x}
	} else {
		out.Gauge = &dto.Gauge{Value: &x}
	}
	return nil
}

// Describe implements prometheus.Collector, so one series can be read on
// its own (testutil.ToFloat64).
func (s *ClusterSeries) Describe(ch chan<- *prometheus.Desc) { ch <- s.v.desc }

// Collect implements prometheus.Collector.
func (s *ClusterSeries) Collect(ch chan<- prometheus.Metric) { ch <- s }
