package config

import "fmt"

// Warnings are settings that are valid but probably not what the operator
// meant: the runner starts with them, and says so at start and in
// check-config.
func (c Config) Warnings() []string {
	var out []string
	if c.QueueSweepInterval > c.MaxQueueAge {
		out = append(out, fmt.Sprintf("--queue-sweep-interval (QUEUE_SWEEP_INTERVAL_SECONDS) %s is longer than --max-queue-age (MAX_QUEUE_AGE_SECONDS) %s: a stale fault can wait up to %s past its age before it expires",
			c.QueueSweepInterval, c.MaxQueueAge, c.QueueSweepInterval))
	}
	return out
}
