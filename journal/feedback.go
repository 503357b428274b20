package journal

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/incident"
)

// ErrNoRecord is SetFeedback's answer for an incident the history does
// not hold (unknown, still running, or pruned).
var ErrNoRecord = errors.New("no finished incident with that id")

// SetFeedback stores a person's verdict in a finished incident's history
// record, replacing an earlier one, and returns the record as stored.
func (s *Store) SetFeedback(id string, f incident.Feedback) (incident.Record, error) {
	var rec incident.Record
	suffix := []byte(id)
	err := s.w.update(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketHistory).Cursor()
		for k, v := c.Last(); k != nil; k, v = c.Prev() {
			if len(k) != 8+len(suffix) || !bytes.HasSuffix(k, suffix) {
				continue
			}
			var r incident.Record
			if err := json.Unmarshal(v, &r); err != nil {
				return err
			}
			r.Feedback = &f
			data, err := json.Marshal(r)
			if err != nil {
				return err
			}
			rec = r
			return tx.Bucket(bucketHistory).Put(bytes.Clone(k), data)
		}
		return ErrNoRecord
	})
	if err != nil {
		return incident.Record{}, fmt.Errorf("journal feedback %s: %w", id, err)
	}
	return rec, nil
}
