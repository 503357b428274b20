package journal

import (
	"bytes"
	"encoding/binary"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Dedup marks are kept twice: by cluster and fault id (the mark itself,
// what Load reads) and in a time index whose keys sort by the time the
// mark was set. Pruning walks the index from its oldest key and stops at
// the first one inside the window, so each prune reads only what it
// removes, however many marks are live; before the index, every prune
// scanned every mark inside the write transaction. A mark set again for
// the same fault leaves its older index key behind; pruning that key
// removes the mark only if the mark itself is as old.

// pruneBatch bounds the index keys one prune removes, so a prune after a
// long pause does not hold the writer for long; the next prune goes on.
const pruneBatch = 4096

func indexKey(ts []byte, cluster, faultID string) []byte {
	k := make([]byte, 0, 8+len(cluster)+1+len(faultID))
	k = append(k, ts...)
	k = append(k, cluster...)
	k = append(k, 0)
	return append(k, faultID...)
}

func indexMark(tx *bolt.Tx, ts []byte, cluster, faultID string) error {
	return tx.Bucket(bucketDedupTime).Put(indexKey(ts, cluster, faultID), nil)
}

// PruneDedup forgets dedup marks older than window, oldest first, up to
// pruneBatch of them.
func (s *Store) PruneDedup(window time.Duration, now time.Time) error {
	cutoff := uint64(now.Add(-window).UnixNano())
	return s.w.update(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketDedupTime).Cursor()
		n := 0
		for k, _ := c.First(); k != nil && n < pruneBatch; k, _ = c.First() {
			if len(k) >= 9 { // shorter keys are not the index's: drop them
				if binary.BigEndian.Uint64(k[:8]) >= cutoff {
					break
				}
				if err := dropMark(tx, k[8:], cutoff); err != nil {
					return err
				}
			}
			if err := c.Delete(); err != nil {
				return err
			}
			n++
		}
		return nil
	})
}

// dropMark removes the mark an index key names if it is older than cutoff.
func dropMark(tx *bolt.Tx, clusterAndID []byte, cutoff uint64) error {
	cluster, id, ok := bytes.Cut(clusterAndID, []byte{0})
	if !ok {
		return nil
	}
	b := tx.Bucket(bucketDedup).Bucket(cluster)
	if b == nil {
		return nil
	}
	if v := b.Get(id); v != nil && (len(v) != 8 || binary.BigEndian.Uint64(v) < cutoff) {
		return b.Delete(id)
	}
	return nil
}

// PruneAllDedup forgets every dedup mark older than window by reading all
// of them, and rebuilds the time index from the marks that stay. It runs
// once at start, so a store written before the index existed, or whose
// index lost keys, is pruned in full.
func (s *Store) PruneAllDedup(window time.Duration, now time.Time) error {
	cutoff := uint64(now.Add(-window).UnixNano())
	return s.w.update(func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket(bucketDedupTime); err != nil {
			return err
		}
		if _, err := tx.CreateBucket(bucketDedupTime); err != nil {
			return err
		}
		return tx.Bucket(bucketDedup).ForEachBucket(func(cluster []byte) error {
			b := tx.Bucket(bucketDedup).Bucket(cluster)
			c := b.Cursor()
			for k, v := c.First(); k != nil; k, v = c.Next() {
				if len(v) != 8 || binary.BigEndian.Uint64(v) < cutoff {
					if err := c.Delete(); err != nil {
						return err
					}
					continue
				}
				if err := indexMark(tx, v, string(cluster), string(k)); err != nil {
					return err
				}
			}
			return nil
		})
	})
}
