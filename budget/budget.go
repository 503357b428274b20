// Package budget governs what unattended agents may spend: a ledger of
// agent runs and their reported cost for the whole runner (the global
// scope) and for each cluster, with limits checked before every launch.
//
// # Limits
//
// Each scope has two limits, either of which may be 0 (unlimited): US
// dollars per day and agent runs per hour. A launch needs every scope it
// belongs to (the global one and its cluster's) to admit it.
//
// # Windows
//
// Dollars are counted per UTC calendar day. Providers bill and report per
// calendar day (in UTC), people reason about "per day" that way, and a
// monthly budget is then exactly the daily one times the days of the
// month: a rolling 24-hour window would let a burst late one evening and
// another early the next morning land in two "days" of a month's sum
// without either day's limit being reached, and the day's spend shown on
// the incidents page could not be read against a provider's invoice.
// The window resets at 00:00 UTC.
//
// Runs are counted in a rolling 60-minute window. A calendar hour would
// let a burst at :59 and another at :00 start twice the limit within two
// minutes; the rolling window holds the rate to the limit over any 60
// minutes, which is what a runs limit is for (protecting the provider's
// rate limits and the cluster's API server as much as the bill).
//
// # Admission and charging
//
// Admit is called before a launch. An admitted launch counts as a run at
// once, so the runs limit is exact however many launches race. Nothing is
// reserved in dollars, since the cost is known only when the agent ends:
// Charge is called then, whatever the agent's status, with what it
// reported (incident.Usage); a run that reported no cost is charged
// Options.DefaultCostUSD. The charge counts on the UTC day it is made.
//
// The dollar limit is therefore checked against what was spent before
// the launch: runs already in flight when the limit is crossed still end
// and are charged. The overshoot is bounded by the cost of the runs in
// flight when the limit was crossed (the run whose charge crossed it
// among them); with at most N agents running and a per-run cap of M
// dollars (the agent's MAX_COST_USD), a day's spend never exceeds the
// limit by N×M or more.
//
// # Transitions
//
// A scope is paused while any of its limits holds. The ledger reports each
// change (paused, resumed) once, through Options.OnTransition, so the
// daemon can log once and notify people once. The state last reported is
// stored with the counts, so a restart neither announces a pause again nor
// misses a resume that happened while the runner was down. A pause ends
// with time (the day turns, runs leave the hour): the ledger notices it on
// its next Admit, Charge or Tick.
//
// # Durability
//
// Every change is saved through Store before Admit or Charge returns, so a
// restart mid-day restores the day's spend and the hour's runs. Windows
// that ended are dropped before each save.
package budget

import (
	"math"
	"slices"
	"sync"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/incident"
)

// Limits of one scope; 0 is unlimited.
type Limits struct {
	USDPerDay   float64
	RunsPerHour int
}

// Scope is the whole runner (Cluster "") or one cluster.
type Scope struct {
	Cluster string
}

// Global is the scope of the whole runner.
func Global() Scope { return Scope{} }

// IsGlobal says whether s is the global scope.
func (s Scope) IsGlobal() bool { return s.Cluster == "" }

// String is "global" or "cluster <name>", for logs.
func (s Scope) String() string {
	if s.IsGlobal() {
		return "global"
	}
	return "cluster " + s.Cluster
}

// Reason names the limit that holds a launch: the label values of
// metrics and the reason field of logs, a bounded set.
type Reason string

const (
	GlobalUSDPerDay    Reason = "global_usd_per_day"
	GlobalRunsPerHour  Reason = "global_runs_per_hour"
	ClusterUSDPerDay   Reason = "cluster_usd_per_day"
	ClusterRunsPerHour Reason = "cluster_runs_per_hour"
)

// Reasons lists every Reason.
func Reasons() []Reason {
	return []Reason{GlobalUSDPerDay, GlobalRunsPerHour, ClusterUSDPerDay, ClusterRunsPerHour}
}

// Decision is Admit's answer.
type Decision struct {
	Allowed bool
	// Scope and Reason name the limit that holds the launch; RetryAt is
	// when that limit admits again (the next UTC midnight for dollars, the
	// moment the oldest run of the hour leaves the window for runs).
	// Another limit may still hold then.
	Scope   Scope
	Reason  Reason
	RetryAt time.Time
}

// Reservation is an admitted launch, to be charged when its agent ends.
// The zero Reservation is not admitted; charging it does nothing.
type Reservation struct {
	id      uint64
	cluster string
}

// Cluster is the cluster the launch was admitted for.
func (r Reservation) Cluster() string { return r.cluster }

// Transition is a scope being paused or resumed.
type Transition struct {
	Scope  Scope
	Paused bool
	// Reason is the limit that paused the scope (empty on resume); Until
	// when it admits again.
	Reason Reason
	Until  time.Time
	At     time.Time
}

// Options configure a Ledger.
type Options struct {
	Global   Limits
	Clusters map[string]Limits
	// DefaultCostUSD is charged for a run whose agent reported no cost.
	DefaultCostUSD float64
	Store          Store
	// Now is the clock of Remaining and Status, which take no time of
	// their own; time.Now when nil.
	Now func() time.Time
	// OnTransition, when set, is told each pause and resume once, in the
	// order they happened. It runs on the caller's goroutine after the
	// ledger's lock is released and must not call back into the ledger.
	OnTransition func(Transition)
	// OnSaveError, when set, is told that the store refused a save. The
	// ledger goes on from memory (every save is the whole state, so the
	// next one that succeeds carries everything); a restart before then
	// forgets what the failed saves held.
	OnSaveError func(error)
}

// Ledger counts runs and spend and admits launches. It is safe for
// concurrent use.
type Ledger struct {
	o Options

	mu       sync.Mutex
	st       State
	inFlight map[uint64]admission
	nextID   uint64

	// deliver is taken before mu is released whenever transitions are to
	// be reported, so callbacks run one at a time in the order of the
	// changes they report.
	deliver sync.Mutex
}

const (
	day  = 24 * time.Hour
	hour = time.Hour
)

// New builds a ledger on what the store holds. Windows that ended while
// the runner was down are dropped; a pause that ended meanwhile (or that
// new limits lift) is reported as resumed.
func New(o Options) (*Ledger, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	st, err := o.Store.Load()
	if err != nil {
		return nil, err
	}
	l := &Ledger{o: o, st: st.clone(), inFlight: map[uint64]admission{}}
	if l.st.Clusters == nil {
		l.st.Clusters = map[string]ScopeState{}
	}
	l.mu.Lock()
	now := o.Now()
	l.roll(now)
	ts := l.transitions(now)
	if len(ts) > 0 {
		l.save()
	}
	l.unlockAndReport(ts)
	return l, nil
}

// Admit decides whether a launch for cluster may start now. An admitted
// launch counts as a run of the hour at once; charge its Reservation when
// the agent ends.
func (l *Ledger) Admit(cluster string, now time.Time) (Reservation, Decision) {
	l.mu.Lock()
	l.roll(now)
	scopes := []Scope{Global()}
	if cluster != "" {
		scopes = append(scopes, Scope{Cluster: cluster})
	}
	for _, s := range scopes {
		if r, until, held := l.holds(s, now); held {
			ts := l.transitions(now)
			if len(ts) > 0 {
				l.save()
			}
			l.unlockAndReport(ts)
			return Reservation{}, Decision{Scope: s, Reason: r, RetryAt: until}
		}
	}
	for _, s := range scopes {
		l.update(s, func(ss *ScopeState) {
			// Sorted, though callers' clocks were read before the lock.
			i, _ := slices.BinarySearchFunc(ss.Runs, now, func(a, b time.Time) int { return a.Compare(b) })
			ss.Runs = slices.Insert(ss.Runs, i, now)
		})
	}
	l.nextID++
	res := Reservation{id: l.nextID, cluster: cluster}
	l.inFlight[res.id] = admission{cluster: cluster, at: now}
	ts := l.transitions(now)
	l.save()
	l.unlockAndReport(ts)
	return res, Decision{Allowed: true}
}

// Charge records what an admitted run cost, once its agent ended
// (whatever its status). A cost the agent did not report is charged as
// DefaultCostUSD. It returns what was charged. A Reservation charged
// before, or never admitted, is ignored (and 0 returned).
func (l *Ledger) Charge(res Reservation, u incident.Usage, now time.Time) float64 {
	l.mu.Lock()
	adm, ok := l.inFlight[res.id]
	if !ok {
		l.mu.Unlock()
		return 0
	}
	cluster := adm.cluster
	delete(l.inFlight, res.id)
	l.roll(now)
	cost := l.o.DefaultCostUSD
	if u.CostUSD != nil {
		cost = *u.CostUSD
	}
	var in, out int64
	if u.InputTokens != nil {
		in = *u.InputTokens
	}
	if u.OutputTokens != nil {
		out = *u.OutputTokens
	}
	charge := func(ss *ScopeState) {
		ss.SpentUSD += cost
		ss.InputTokens += in
		ss.OutputTokens += out
		ss.Charged++
	}
	l.update(Global(), charge)
	if cluster != "" {
		l.update(Scope{Cluster: cluster}, charge)
	}
	ts := l.transitions(now)
	l.save()
	l.unlockAndReport(ts)
	return cost
}

// Cancel gives back an admission no agent followed (the queue emptied
// between the admission and the launch): the run leaves the hour's count
// as if it had not been admitted. A Reservation charged or cancelled
// before is ignored.
func (l *Ledger) Cancel(res Reservation) {
	l.mu.Lock()
	adm, ok := l.inFlight[res.id]
	if !ok {
		l.mu.Unlock()
		return
	}
	delete(l.inFlight, res.id)
	drop := func(ss *ScopeState) {
		if i := slices.IndexFunc(ss.Runs, adm.at.Equal); i >= 0 {
			ss.Runs = slices.Delete(ss.Runs, i, i+1)
		}
	}
	l.update(Global(), drop)
	if adm.cluster != "" {
		l.update(Scope{Cluster: adm.cluster}, drop)
	}
	now := l.o.Now()
	l.roll(now)
	ts := l.transitions(now)
	l.save()
	l.unlockAndReport(ts)
}

// admission is an admitted launch not yet charged: its cluster, and the
// run it added to the hour, so Cancel can take that run back.
type admission struct {
	cluster string
	at      time.Time
}

// Tick reports the pauses that time ended (a new day, runs leaving the
// hour) when no launch is asking: the daemon calls it now and then so a
// resume is announced even while nothing is queued.
func (l *Ledger) Tick(now time.Time) {
	l.mu.Lock()
	l.roll(now)
	ts := l.transitions(now)
	if len(ts) > 0 {
		l.save()
	}
	l.unlockAndReport(ts)
}

// Remaining is what a scope may still use in its current windows; +Inf
// where the scope has no limit. Never negative.
type Remaining struct {
	USD  float64
	Runs float64
}

// Remaining is what scope may still spend today and launch this hour,
// for a gauge.
func (l *Ledger) Remaining(s Scope) Remaining {
	now := l.o.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.roll(now)
	lim := l.limits(s)
	ss := l.scope(s)
	r := Remaining{USD: math.Inf(1), Runs: math.Inf(1)}
	if lim.USDPerDay > 0 {
		r.USD = max(0, lim.USDPerDay-ss.SpentUSD)
	}
	if lim.RunsPerHour > 0 {
		r.Runs = float64(max(0, lim.RunsPerHour-len(ss.Runs)))
	}
	return r
}

// ScopeStatus is one scope's line of the incidents page header.
type ScopeStatus struct {
	Scope        Scope
	SpentUSD     float64 // today (UTC)
	USDPerDay    float64 // 0: unlimited
	InputTokens  int64   // today
	OutputTokens int64
	RunsCharged  int // runs charged today
	RunsLastHour int // runs admitted in the last 60 minutes
	RunsPerHour  int // 0: unlimited
	InFlight     int
	// Paused while a limit holds: Reason names it, ResumesAt is when it
	// admits again.
	Paused    bool
	Reason    Reason
	ResumesAt time.Time
}

// Status is the ledger at a glance.
type Status struct {
	At          time.Time
	Day         time.Time // 00:00 UTC of the day whose spend is counted
	DayResetsAt time.Time
	Global      ScopeStatus
	Clusters    []ScopeStatus // configured clusters and any with counts, by name
}

// Status reports today's spend against the budgets, the hour's runs
// against their limits and which scopes are paused until when.
func (l *Ledger) Status() Status {
	now := l.o.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.roll(now)
	st := Status{At: now, Day: l.st.Day, DayResetsAt: l.st.Day.Add(day), Global: l.scopeStatus(Global(), now)}
	for _, c := range l.clusters() {
		st.Clusters = append(st.Clusters, l.scopeStatus(Scope{Cluster: c}, now))
	}
	return st
}

func (l *Ledger) scopeStatus(s Scope, now time.Time) ScopeStatus {
	lim := l.limits(s)
	ss := l.scope(s)
	r, until, held := l.holds(s, now)
	out := ScopeStatus{Scope: s, SpentUSD: ss.SpentUSD, USDPerDay: lim.USDPerDay, InputTokens: ss.InputTokens,
		OutputTokens: ss.OutputTokens, RunsCharged: ss.Charged, RunsLastHour: len(ss.Runs), RunsPerHour: lim.RunsPerHour,
		Paused: held, Reason: r, ResumesAt: until}
	for _, a := range l.inFlight {
		if s.IsGlobal() || a.cluster == s.Cluster {
			out.InFlight++
		}
	}
	return out
}

// roll moves the windows to now: a new UTC day drops the day's spend,
// runs older than an hour leave, and clusters with nothing left to count
// and no limits configured are forgotten. A clock that went back keeps
// the day it had: a step back must not erase what was spent.
func (l *Ledger) roll(now time.Time) {
	today := now.UTC().Truncate(day)
	if today.After(l.st.Day) {
		if !l.st.Day.IsZero() {
			l.st.Global = l.st.Global.newDay()
			for c, ss := range l.st.Clusters {
				l.st.Clusters[c] = ss.newDay()
			}
		}
		l.st.Day = today
	}
	cutoff := now.Add(-hour)
	prune := func(ss ScopeState) ScopeState {
		i := 0
		for i < len(ss.Runs) && !ss.Runs[i].After(cutoff) {
			i++
		}
		ss.Runs = slices.Clone(ss.Runs[i:])
		return ss
	}
	l.st.Global = prune(l.st.Global)
	for c, ss := range l.st.Clusters {
		ss = prune(ss)
		_, configured := l.o.Clusters[c]
		if !configured && ss.empty() {
			delete(l.st.Clusters, c)
			continue
		}
		l.st.Clusters[c] = ss
	}
}

// holds says which limit of s, if any, refuses a launch at now, and until
// when. Dollars are checked first: they hold for the rest of the day.
func (l *Ledger) holds(s Scope, now time.Time) (Reason, time.Time, bool) {
	lim := l.limits(s)
	ss := l.scope(s)
	usd, runs := GlobalUSDPerDay, GlobalRunsPerHour
	if !s.IsGlobal() {
		usd, runs = ClusterUSDPerDay, ClusterRunsPerHour
	}
	if lim.USDPerDay > 0 && ss.SpentUSD >= lim.USDPerDay {
		return usd, l.st.Day.Add(day), true
	}
	if lim.RunsPerHour > 0 && len(ss.Runs) >= lim.RunsPerHour {
		// The run that must leave the window for the count to drop below
		// the limit.
		return runs, ss.Runs[len(ss.Runs)-lim.RunsPerHour].Add(hour), true
	}
	return "", time.Time{}, false
}

// transitions compares each scope's holding state with the one last
// reported and records the changes.
func (l *Ledger) transitions(now time.Time) []Transition {
	var ts []Transition
	check := func(s Scope) {
		r, until, held := l.holds(s, now)
		if held == l.scope(s).Paused {
			return
		}
		l.update(s, func(ss *ScopeState) { ss.Paused = held })
		ts = append(ts, Transition{Scope: s, Paused: held, Reason: r, Until: until, At: now})
	}
	check(Global())
	for _, c := range l.clusters() {
		check(Scope{Cluster: c})
	}
	return ts
}

// unlockAndReport releases mu and reports ts in order (see deliver).
func (l *Ledger) unlockAndReport(ts []Transition) {
	if len(ts) == 0 || l.o.OnTransition == nil {
		l.mu.Unlock()
		return
	}
	l.deliver.Lock()
	l.mu.Unlock()
	defer l.deliver.Unlock()
	for _, t := range ts {
		l.o.OnTransition(t)
	}
}

// save writes the whole state under mu, so saves land in the order of the
// changes they hold; a save is one small transaction and launches are
// rare next to it.
func (l *Ledger) save() {
	if err := l.o.Store.Save(l.st.clone()); err != nil && l.o.OnSaveError != nil {
		l.o.OnSaveError(err)
	}
}

func (l *Ledger) limits(s Scope) Limits {
	if s.IsGlobal() {
		return l.o.Global
	}
	return l.o.Clusters[s.Cluster]
}

func (l *Ledger) scope(s Scope) ScopeState {
	if s.IsGlobal() {
		return l.st.Global
	}
	return l.st.Clusters[s.Cluster]
}

func (l *Ledger) update(s Scope, f func(*ScopeState)) {
	if s.IsGlobal() {
		f(&l.st.Global)
		return
	}
	ss := l.st.Clusters[s.Cluster]
	f(&ss)
	l.st.Clusters[s.Cluster] = ss
}

// clusters are the configured clusters and those with counts, sorted.
func (l *Ledger) clusters() []string {
	var cs []string
	for c := range l.o.Clusters {
		if c != "" { // the empty name is the global scope
			cs = append(cs, c)
		}
	}
	for c := range l.st.Clusters {
		if _, ok := l.o.Clusters[c]; !ok && c != "" {
			cs = append(cs, c)
		}
	}
	slices.Sort(cs)
	return cs
}
