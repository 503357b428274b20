package journal

import (
	"bytes"
	"encoding/json"

	bolt "go.etcd.io/bbolt"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/incident"
)

// Record returns the history record of one incident; ok is false if the
// history holds none. Keys end with the incident id, so only the match is
// decoded.
func (s *Store) Record(id string) (r incident.Record, ok bool, err error) {
	suffix := []byte(id)
	err = s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketHistory).Cursor()
		for k, v := c.Last(); k != nil; k, v = c.Prev() {
			if len(k) == 8+len(suffix) && bytes.HasSuffix(k, suffix) {
				ok = true
				return json.Unmarshal(v, &r)
			}
		}
		return nil
	})
	return r, ok, err
}

// Running lists the incidents whose agents are running (or were, when a
// crash interrupted them).
func (s *Store) Running() ([]InFlight, error) {
	var out []InFlight
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketInFlight).ForEach(func(_, v []byte) error {
			var f InFlight
			if err := json.Unmarshal(v, &f); err != nil {
				return err
			}
			out = append(out, f)
			return nil
		})
	})
	return out, err
}
