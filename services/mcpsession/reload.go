package mcpsession

import (
	"reflect"
	"slices"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/config"
)

// Reconcile changes the set to serve clusters, as a configuration reload
// asks, without touching what did not change: a session whose clusters
// are exactly the same, with the same endpoint, credentials, context and
// filters, is kept with its connection and subscriptions. Every other
// session is handed to stop, which must return once it has stopped, and
// the sessions that replace them (for added clusters, and for clusters
// whose session changed) are handed to start afterwards. A cluster's
// triage and kubeconfig settings do not matter here: they are not the
// session's. It returns the names of the clusters whose sessions were
// kept.
func (s *Set) Reconcile(clusters []config.Cluster, stop, start func(*Session)) (kept []string) {
	s.mu.RLock()
	old := slices.Clone(s.sessions)
	s.mu.RUnlock()

	groups := groupClusters(clusters, s.o.MaxSubscriptionsPerSession)
	keep := make(map[*Session]bool)
	next := make([]*Session, len(groups))
	for i, group := range groups {
		for _, ss := range old {
			if !keep[ss] && ss.serves(group) {
				keep[ss], next[i] = true, ss
				for _, c := range group {
					kept = append(kept, c.Name)
				}
				break
			}
		}
	}
	for _, ss := range old {
		if !keep[ss] {
			stop(ss)
		}
	}
	now := s.o.Now()
	var fresh []*Session
	for i, group := range groups {
		if next[i] != nil {
			continue
		}
		bs := make([]*binding, len(group))
		for j, c := range group {
			bs[j] = newBinding(c, s.o, now)
		}
		next[i] = newSession(bs, s.o, s.transports, s.clock)
		fresh = append(fresh, next[i])
	}

	s.mu.Lock()
	s.sessions = next
	s.bindings = nil
	s.byName = make(map[string]*binding, len(clusters))
	for _, ss := range next {
		for _, b := range ss.bindings {
			s.bindings = append(s.bindings, b)
			s.byName[b.name] = b
		}
	}
	s.mu.Unlock()
	for _, ss := range fresh {
		start(ss)
	}
	return kept
}

// serves reports whether the session serves exactly group, in order, with
// the same session settings.
func (s *Session) serves(group []config.Cluster) bool {
	if len(s.bindings) != len(group) {
		return false
	}
	for i, b := range s.bindings {
		if !reflect.DeepEqual(sessionSettings(b.cluster), sessionSettings(group[i])) {
			return false
		}
	}
	return true
}

// sessionSettings is a cluster's configuration without what only intake
// and dispatch use.
func sessionSettings(c config.Cluster) config.Cluster {
	c.Triage, c.Kubeconfig = false, ""
	return c
}
