package journal

import (
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The live marks say, per cluster, until when its fault subscription was
// last known live (and reconciled): a runner that starts again on this
// store knows how long each cluster was blind while it was away, and so
// what a reconcile must look back over. One small bucket, one key per
// cluster, created by the first mark: a store written before marks existed
// opens unchanged and knows no window.
var bucketLive = []byte("live") // cluster → unix nanos

// LiveMarks is the journal as the sessions' store of live marks.
type LiveMarks struct{ s *Store }

// Live returns the journal's live marks. Marks go through the journal's
// one writer, so they share fsyncs with the queue's writes.
func (s *Store) Live() LiveMarks { return LiveMarks{s: s} }

// Load returns every cluster's mark.
func (l LiveMarks) Load() (map[string]time.Time, error) {
	out := map[string]time.Time{}
	err := guard(l.s.path, func() error {
		return l.s.db.View(func(tx *bolt.Tx) error {
			bk := tx.Bucket(bucketLive)
			if bk == nil {
				return nil
			}
			return bk.ForEach(func(k, v []byte) error {
				if len(v) != 8 {
					return fmt.Errorf("%w: live mark of %q is %d bytes", ErrCorrupt, k, len(v))
				}
				out[string(k)] = time.Unix(0, int64(binary.BigEndian.Uint64(v)))
				return nil
			})
		})
	})
	if err != nil {
		return nil, fmt.Errorf("load live marks: %w", err)
	}
	return out, nil
}

// Mark records each cluster's mark in one transaction.
func (l LiveMarks) Mark(marks map[string]time.Time) error {
	if len(marks) == 0 {
		return nil
	}
	err := l.s.w.update(func(tx *bolt.Tx) error {
		bk, err := tx.CreateBucketIfNotExists(bucketLive)
		if err != nil {
			return err
		}
		for cluster, at := range marks {
			var v [8]byte
			binary.BigEndian.PutUint64(v[:], uint64(at.UnixNano()))
			if err := bk.Put([]byte(cluster), v[:]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("save live marks: %w", err)
	}
	return nil
}
