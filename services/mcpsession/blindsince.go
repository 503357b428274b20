package mcpsession

import "time"

// BlindSince reports when a configured cluster lost its subscription (or
// began waiting for its first), and whether it is blind now: the incidents
// page's clusters view shows it.
func (s *Set) BlindSince(cluster string) (time.Time, bool) {
	s.mu.RLock()
	b, ok := s.byName[cluster]
	s.mu.RUnlock()
	if !ok {
		return time.Time{}, false
	}
	return b.blindWindow()
}
