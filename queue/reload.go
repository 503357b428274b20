package queue

// Add makes an empty queue for a cluster a reload added and returns it;
// a cluster that has one already keeps it.
func (s *Set) Add(cluster string) *Queue {
	s.mu.Lock()
	defer s.mu.Unlock()
	if q, ok := s.byName[cluster]; ok {
		return q
	}
	q := s.make(cluster)
	s.byName[cluster] = q
	s.order = append(s.order, q)
	return q
}

// Remove takes a cluster's queue out of the set once its removal is
// complete (its workers drained it). Faults still in it, if any, stay in
// the journal until the next start, which restores them if the cluster is
// configured again and drops them (logged) if not.
func (s *Set) Remove(cluster string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q, ok := s.byName[cluster]
	if !ok {
		return
	}
	delete(s.byName, cluster)
	for i, o := range s.order {
		if o == q {
			s.order = append(s.order[:i:i], s.order[i+1:]...)
			break
		}
	}
}
