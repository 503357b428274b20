// Package poll waits in tests for a condition that real processes, sockets
// or goroutines make true in their own time: the one deadline loop every
// test uses, so none hand-rolls its own.
package poll

import (
	"testing"
	"time"
)

// Interval is how often Until checks its condition.
const Interval = 20 * time.Millisecond

// Until checks cond every Interval until it holds, and fails the test with
// "timed out after <timeout> waiting for <what>" if it does not hold within
// timeout. The timeout is a bound on a hang, not a speed requirement.
func Until(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting for %s", timeout, what)
			return
		}
		time.Sleep(Interval)
	}
}
