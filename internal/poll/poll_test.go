package poll

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestUntilReturnsOnceTheConditionHolds(t *testing.T) {
	n := 0
	Until(t, time.Minute, "the third check", func() bool { n++; return n == 3 })
	if n != 3 {
		t.Fatalf("checked %d times, want 3", n)
	}
}

// recorder is a testing.TB that records Fatalf instead of stopping.
type recorder struct {
	testing.TB
	msg string
}

func (r *recorder) Helper() {}
func (r *recorder) Fatalf(format string, args ...any) {
	r.msg = fmt.Sprintf(format, args...)
}

func TestUntilFailsTheTestAtTheTimeout(t *testing.T) {
	r := &recorder{TB: t}
	Until(r, 3*Interval, "never", func() bool { return false })
	if !strings.Contains(r.msg, "waiting for never") {
		t.Fatalf("Fatalf not called with the condition's name: %q", r.msg)
	}
}
