package budget

import (
	"slices"
	"sync"
	"time"
)

// State is what the ledger keeps across restarts: the current windows'
// counts of every scope. It is plain data so a store can encode it as it
// likes (the journal stores it as JSON).
type State struct {
	// Day is 00:00 UTC of the day SpentUSD and the token counts are of.
	Day      time.Time             `json:"day"`
	Global   ScopeState            `json:"global"`
	Clusters map[string]ScopeState `json:"clusters,omitempty"`
}

// ScopeState is one scope's counts.
type ScopeState struct {
	SpentUSD     float64 `json:"spentUsd"`
	InputTokens  int64   `json:"inputTokens,omitempty"`
	OutputTokens int64   `json:"outputTokens,omitempty"`
	Charged      int     `json:"charged,omitempty"`
	// Runs are the admissions of the last 60 minutes, oldest first.
	Runs []time.Time `json:"runs,omitempty"`
	// Paused is the state last reported, so a restart reports only changes.
	Paused bool `json:"paused,omitempty"`
}

func (ss ScopeState) newDay() ScopeState {
	return ScopeState{Runs: ss.Runs, Paused: ss.Paused}
}

func (ss ScopeState) empty() bool {
	return ss.SpentUSD == 0 && ss.InputTokens == 0 && ss.OutputTokens == 0 && ss.Charged == 0 && len(ss.Runs) == 0 && !ss.Paused
}

func (st State) clone() State {
	out := State{Day: st.Day, Global: st.Global, Clusters: make(map[string]ScopeState, len(st.Clusters))}
	out.Global.Runs = slices.Clone(st.Global.Runs)
	for c, ss := range st.Clusters {
		ss.Runs = slices.Clone(ss.Runs)
		out.Clusters[c] = ss
	}
	return out
}

// Store keeps the ledger's State. Save is given the whole state after
// every change; Load returns the last one saved (the zero State when none
// was).
type Store interface {
	Load() (State, error)
	Save(State) error
}

// MemoryStore is a Store in memory, for tests and for a runner without a
// state directory. Safe for concurrent use.
type MemoryStore struct {
	mu    sync.Mutex
	st    State
	saves int
}

// Load implements Store.
func (m *MemoryStore) Load() (State, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.st.clone(), nil
}

// Save implements Store.
func (m *MemoryStore) Save(st State) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.st = st.clone()
	m.saves++
	return nil
}

// Saves is how many times Save was called.
func (m *MemoryStore) Saves() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.saves
}
