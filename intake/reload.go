package intake

// SetClusters replaces the per-cluster policies after a configuration
// reload: a cluster added gets an empty dedup memory, a cluster kept keeps
// its memory and takes its new policy, and a removed cluster's faults are
// refused as unknown_cluster from now on.
func (in *Intake) SetClusters(policies map[string]ClusterPolicy) {
	in.mu.Lock()
	defer in.mu.Unlock()
	next := make(map[string]*dedupMemory, len(policies))
	for name := range policies {
		if d, ok := in.dedup[name]; ok {
			next[name] = d
		} else {
			next[name] = newDedupMemory(in.o.DedupWindow, in.o.DedupEntries)
		}
	}
	in.dedup = next
	ongoing := make(map[string]*dedupMemory, len(policies))
	for name := range policies {
		if d, ok := in.ongoing[name]; ok {
			ongoing[name] = d
		} else {
			ongoing[name] = newDedupMemory(OngoingMaxAge, in.o.DedupEntries)
		}
	}
	in.ongoing = ongoing
	in.policies = make(map[string]ClusterPolicy, len(policies))
	for name, p := range policies {
		in.policies[name] = p
	}
}
