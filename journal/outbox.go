package journal

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/incident"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/notification"
)

// bucketOutbox holds the notification outbox: sink → idempotency key →
// notification.OutboxRecord. Records are added in the transaction that finishes
// an incident (FinishNotify) or by AddOutbox for system notices, and
// rewritten by Save after every delivery attempt.
var bucketOutbox = []byte("outbox")

// bucketOutboxPending indexes the pending records: sink → key → nothing.
// Delivered and dead records are kept for people (until pruned), so the
// pump's reads go through this index and stay proportional to what is
// pending, not to the history.
var bucketOutboxPending = []byte("outbox-pending")

// putOutbox writes records into tx.
func putOutbox(tx *bolt.Tx, recs []notification.OutboxRecord) error {
	if len(recs) == 0 {
		return nil
	}
	top, err := tx.CreateBucketIfNotExists(bucketOutbox)
	if err != nil {
		return err
	}
	index, err := tx.CreateBucketIfNotExists(bucketOutboxPending)
	if err != nil {
		return err
	}
	for _, r := range recs {
		if r.Sink == "" || r.Key == "" {
			return fmt.Errorf("outbox record without sink or key (%q, %q)", r.Sink, r.Key)
		}
		b, err := top.CreateBucketIfNotExists([]byte(r.Sink))
		if err != nil {
			return err
		}
		data, err := json.Marshal(r)
		if err != nil {
			return err
		}
		if err := b.Put([]byte(r.Key), data); err != nil {
			return err
		}
		pending, err := index.CreateBucketIfNotExists([]byte(r.Sink))
		if err != nil {
			return err
		}
		if r.State == notification.StatePending {
			err = pending.Put([]byte(r.Key), nil)
		} else {
			err = pending.Delete([]byte(r.Key))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// FinishNotify ends an in-flight incident, adds it to the history and
// writes its outbox records, in one transaction: once an incident is
// recorded as ended its notifications are on disk too.
func (s *Store) FinishNotify(r incident.Record, out []notification.OutboxRecord) error {
	var pruned []string
	err := s.w.update(func(tx *bolt.Tx) error {
		pruned = pruned[:0] // the writer may run this again after a rollback
		if err := tx.Bucket(bucketInFlight).Delete([]byte(r.IncidentID)); err != nil {
			return err
		}
		if err := s.addHistory(tx, r, &pruned); err != nil {
			return err
		}
		return putOutbox(tx, out)
	})
	if err != nil {
		return fmt.Errorf("journal finish %s: %w", r.IncidentID, err)
	}
	if len(pruned) > 0 && s.o.OnPruned != nil {
		s.o.OnPruned(pruned)
	}
	return nil
}

// AddOutbox writes outbox records of their own (system notices). A record
// whose (sink, key) is already stored is left as it is, so raising the
// same notice twice delivers it once.
func (s *Store) AddOutbox(recs []notification.OutboxRecord) error {
	err := s.w.update(func(tx *bolt.Tx) error {
		var fresh []notification.OutboxRecord
		top := tx.Bucket(bucketOutbox)
		for _, r := range recs {
			if top != nil {
				if b := top.Bucket([]byte(r.Sink)); b != nil && b.Get([]byte(r.Key)) != nil {
					continue
				}
			}
			fresh = append(fresh, r)
		}
		return putOutbox(tx, fresh)
	})
	if err != nil {
		return fmt.Errorf("journal outbox: %w", err)
	}
	return nil
}

// Save is part of notify.OutboxStore: it replaces the record with the same
// sink and key, durably, before it returns.
func (s *Store) Save(r notification.OutboxRecord) error {
	if err := s.w.update(func(tx *bolt.Tx) error { return putOutbox(tx, []notification.OutboxRecord{r}) }); err != nil {
		return fmt.Errorf("journal outbox save %s/%s: %w", r.Sink, r.Key, err)
	}
	return nil
}

// eachPending calls fn for every pending record of sink (every sink when
// sink is empty), through the pending index.
func eachPending(tx *bolt.Tx, sink string, fn func(notification.OutboxRecord) error) error {
	index, top := tx.Bucket(bucketOutboxPending), tx.Bucket(bucketOutbox)
	if index == nil || top == nil {
		return nil
	}
	visit := func(name []byte) error {
		keys, records := index.Bucket(name), top.Bucket(name)
		if keys == nil || records == nil {
			return nil
		}
		return keys.ForEach(func(k, _ []byte) error {
			v := records.Get(k)
			if v == nil {
				return nil
			}
			var r notification.OutboxRecord
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("outbox record %s/%s: %w", name, k, err)
			}
			if r.State != notification.StatePending {
				return nil
			}
			return fn(r)
		})
	}
	if sink != "" {
		return visit([]byte(sink))
	}
	return index.ForEachBucket(visit)
}

// Due is part of notify.OutboxStore: up to limit pending records of sink
// due at now, oldest first.
func (s *Store) Due(sink string, now time.Time, limit int) ([]notification.OutboxRecord, error) {
	var out []notification.OutboxRecord
	err := s.db.View(func(tx *bolt.Tx) error {
		return eachPending(tx, sink, func(r notification.OutboxRecord) error {
			if r.Due(now) {
				out = append(out, r)
			}
			return nil
		})
	})
	slices.SortStableFunc(out, func(a, b notification.OutboxRecord) int { return a.CreatedAt.Compare(b.CreatedAt) })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, err
}

// NextDue is part of notify.OutboxStore.
func (s *Store) NextDue(sink string) (at time.Time, ok bool, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		return eachPending(tx, sink, func(r notification.OutboxRecord) error {
			if !ok || r.NextAttemptAt.Before(at) {
				at, ok = r.NextAttemptAt, true
			}
			return nil
		})
	})
	return at, ok, err
}

// OutboxDepth counts the pending records of each sink.
func (s *Store) OutboxDepth() (map[string]int, error) {
	depth := map[string]int{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return eachPending(tx, "", func(r notification.OutboxRecord) error {
			depth[r.Sink]++
			return nil
		})
	})
	return depth, err
}

// Deliveries returns the delivery status of the notification with key, one
// record per sink it was routed to, in sink order; the records' Notification
// is left empty (the pump reads documents through Due).
func (s *Store) Deliveries(key string) ([]notification.OutboxRecord, error) {
	var out []notification.OutboxRecord
	err := s.db.View(func(tx *bolt.Tx) error { return deliveries(tx, key, &out) })
	return out, err
}

// skipJSON takes a JSON value and keeps nothing of it.
type skipJSON struct{}

func (*skipJSON) UnmarshalJSON([]byte) error { return nil }

func deliveries(tx *bolt.Tx, key string, out *[]notification.OutboxRecord) error {
	top := tx.Bucket(bucketOutbox)
	if top == nil {
		return nil
	}
	return top.ForEachBucket(func(name []byte) error {
		v := top.Bucket(name).Get([]byte(key))
		if v == nil {
			return nil
		}
		// The delivery status only: the document (report excerpt, fault
		// context, up to tens of KiB each) is skipped, not decoded, so a
		// page listing hundreds of incidents stays cheap.
		var r struct {
			notification.OutboxRecord
			Notification skipJSON `json:"notification"`
		}
		if err := json.Unmarshal(v, &r); err != nil {
			return fmt.Errorf("outbox record %s/%s: %w", name, key, err)
		}
		*out = append(*out, r.OutboxRecord)
		return nil
	})
}

// DeadLetterUnknown marks every pending record of a sink not in sinks dead
// (notification.DeadUnknownSink), so records of a sink removed from the
// configuration stop counting as pending and are kept for people to see.
// It returns the records it marked.
func (s *Store) DeadLetterUnknown(sinks []string, now time.Time) ([]notification.OutboxRecord, error) {
	var marked []notification.OutboxRecord
	err := s.w.update(func(tx *bolt.Tx) error {
		marked = marked[:0] // the writer may run this again after a rollback
		var dead []notification.OutboxRecord
		err := eachPending(tx, "", func(r notification.OutboxRecord) error {
			if !slices.Contains(sinks, r.Sink) {
				dead = append(dead, notification.DeadLetter(r, notification.DeadUnknownSink, now))
			}
			return nil
		})
		if err != nil {
			return err
		}
		marked = append(marked, dead...)
		return putOutbox(tx, dead)
	})
	if err != nil {
		return nil, fmt.Errorf("journal outbox: %w", err)
	}
	return marked, nil
}

// PruneOutbox deletes delivered and dead records that ended before
// now-maxAge, and the oldest of them past maxPerSink in each sink. Pending
// records are never pruned: the delivery policy dead-letters them first.
func (s *Store) PruneOutbox(maxAge time.Duration, maxPerSink int, now time.Time) (int, error) {
	pruned := 0
	err := s.w.update(func(tx *bolt.Tx) error {
		pruned = 0
		top := tx.Bucket(bucketOutbox)
		if top == nil {
			return nil
		}
		return top.ForEachBucket(func(name []byte) error {
			b := top.Bucket(name)
			type done struct {
				key []byte
				at  time.Time
			}
			var finished []done
			err := b.ForEach(func(k, v []byte) error {
				var r notification.OutboxRecord
				if err := json.Unmarshal(v, &r); err != nil {
					// An unreadable record can never be delivered:
					// drop it rather than fail every prune.
					finished = append(finished, done{bytes.Clone(k), time.Time{}})
					return nil
				}
				switch r.State {
				case notification.StateDelivered:
					finished = append(finished, done{bytes.Clone(k), r.DeliveredAt})
				case notification.StateDead:
					finished = append(finished, done{bytes.Clone(k), r.DeadAt})
				}
				return nil
			})
			if err != nil {
				return err
			}
			slices.SortFunc(finished, func(a, b done) int { return a.at.Compare(b.at) })
			excess := 0
			if maxPerSink > 0 {
				excess = len(finished) - maxPerSink
			}
			for i, d := range finished {
				if i >= excess && (maxAge <= 0 || !d.at.Before(now.Add(-maxAge))) {
					continue
				}
				if err := b.Delete(d.key); err != nil {
					return err
				}
				pruned++
			}
			return nil
		})
	})
	if err != nil {
		return 0, fmt.Errorf("journal outbox prune: %w", err)
	}
	return pruned, nil
}

// ReadDeliveries opens the store in dir read-only and returns the delivery
// records of each incident in ids, by incident id.
func ReadDeliveries(dir string, ids []string) (map[string][]notification.OutboxRecord, error) {
	db, path, err := openReadOnly(dir)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	// Read with memory faults turned into errors, as every read of a store
	// that may be damaged (see guard).
	var out map[string][]notification.OutboxRecord
	err = guard(path, func() error {
		var err error
		out, err = (&Store{db: db, path: path}).IncidentDeliveries(ids)
		return err
	})
	return out, err
}

// IncidentDeliveries returns the delivery status of each incident in ids,
// by incident id, as Deliveries does.
func (s *Store) IncidentDeliveries(ids []string) (map[string][]notification.OutboxRecord, error) {
	out := make(map[string][]notification.OutboxRecord, len(ids))
	err := s.db.View(func(tx *bolt.Tx) error {
		for _, id := range ids {
			var recs []notification.OutboxRecord
			if err := deliveries(tx, notification.IncidentKey(id), &recs); err != nil {
				return err
			}
			if len(recs) > 0 {
				out[id] = recs
			}
		}
		return nil
	})
	return out, err
}
