package journal

import (
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/budget"
)

// The budget ledger's counts live in a bucket of their own, as one JSON
// value: the ledger saves its whole state after every change, and that
// state is small (each scope's day totals and the admissions of the last
// hour), so one Put replaces it and Load needs no merging. The bucket is
// created by the first save, so a store written before budgets existed
// opens unchanged and loads an empty ledger.
var (
	bucketBudget   = []byte("budget")
	budgetStateKey = []byte("state")
)

// BudgetStore is the journal as the budget ledger's Store.
type BudgetStore struct{ s *Store }

// Budget returns the journal as a budget.Store. Its saves go through the
// journal's one writer, so they share fsyncs with the queue's writes.
func (s *Store) Budget() BudgetStore { return BudgetStore{s: s} }

// Load implements budget.Store.
func (b BudgetStore) Load() (budget.State, error) {
	var st budget.State
	err := guard(b.s.path, func() error {
		return b.s.db.View(func(tx *bolt.Tx) error {
			bk := tx.Bucket(bucketBudget)
			if bk == nil {
				return nil
			}
			v := bk.Get(budgetStateKey)
			if v == nil {
				return nil
			}
			if err := json.Unmarshal(v, &st); err != nil {
				return fmt.Errorf("%w: budget state: %w", ErrCorrupt, err)
			}
			return nil
		})
	})
	return st, err
}

// Save implements budget.Store.
func (b BudgetStore) Save(st budget.State) error {
	data, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("encode budget state: %w", err)
	}
	err = b.s.w.update(func(tx *bolt.Tx) error {
		bk, err := tx.CreateBucketIfNotExists(bucketBudget)
		if err != nil {
			return err
		}
		return bk.Put(budgetStateKey, data)
	})
	if err != nil {
		return fmt.Errorf("save budget state: %w", err)
	}
	return nil
}
