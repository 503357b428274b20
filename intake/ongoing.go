package intake

import (
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
)

// OngoingMaxAge bounds how long a fault submitted with SubmitUntilEnded is
// remembered when its source never reports its end: a fault still firing
// after it is investigated again, once per OngoingMaxAge.
const OngoingMaxAge = 7 * 24 * time.Hour

// SubmitUntilEnded is Submit for a source that repeats a fault for as long
// as it lasts and reports when it is over (End). A fault queued, or found
// a duplicate, this way is remembered until End, so the source's repeats
// stay duplicates past --dedup-window. The memory holds at most
// DedupEntries ids per cluster (the oldest are forgotten first) and each
// for at most OngoingMaxAge; it lives in memory only, so after a restart
// only the dedup window (restored from the state store) holds repeats.
func (in *Intake) SubmitUntilEnded(cluster string, ev fault.Event) Outcome {
	return in.submit(cluster, ev, true)
}

// End forgets a fault submitted with SubmitUntilEnded: its source reported
// it over. A fault that starts again later comes with a new id.
func (in *Intake) End(cluster, faultID string) {
	in.mu.RLock()
	d := in.ongoing[cluster]
	in.mu.RUnlock()
	if d != nil {
		d.forget(faultID)
	}
}

// Ongoing is the number of faults of cluster remembered until their end.
func (in *Intake) Ongoing(cluster string) int {
	in.mu.RLock()
	d := in.ongoing[cluster]
	in.mu.RUnlock()
	if d != nil {
		return d.Len()
	}
	return 0
}

// forget drops id; its entry in the eviction order goes stale and is
// skipped.
func (d *dedupMemory) forget(id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.seenAt, id)
}
