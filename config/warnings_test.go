package config

import (
	"strings"
	"testing"
	"time"
)

func TestSweepLongerThanMaxAgeIsWarned(t *testing.T) {
	c := Defaults()
	if w := c.Warnings(); len(w) != 0 {
		t.Fatalf("defaults warn: %v", w)
	}
	c.QueueSweepInterval, c.MaxQueueAge = 15*time.Minute, 10*time.Minute
	w := c.Warnings()
	if len(w) != 1 || !strings.Contains(w[0], "--queue-sweep-interval") || !strings.Contains(w[0], "--max-queue-age") {
		t.Fatalf("warnings %v, want one naming both flags", w)
	}
}
