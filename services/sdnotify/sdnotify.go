// Package sdnotify tells systemd about the runner: state changes (READY=1,
// STOPPING=1) and, when the unit sets WatchdogSec, a watchdog ping as a
// supervised service. Outside systemd (NOTIFY_SOCKET unset) it does nothing.
package sdnotify

import (
	"context"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// Send sends one state to systemd; outside systemd it is a no-op.
func Send(state string) { _, _ = daemon.SdNotify(false, state) }

// WatchdogInterval is the interval systemd expects pings at, and false when
// the unit has no watchdog (or this is not systemd).
func WatchdogInterval() (time.Duration, bool) {
	interval, err := daemon.SdWatchdogEnabled(false)
	return interval, err == nil && interval > 0
}

// Watchdog pings systemd's watchdog at half the interval systemd asks for.
type Watchdog struct {
	interval time.Duration
	notify   func(string)
}

// NewWatchdog returns the watchdog service; notify sends a state (Send, or
// a test's recorder).
func NewWatchdog(interval time.Duration, notify func(string)) Watchdog {
	return Watchdog{interval: interval, notify: notify}
}

func (w Watchdog) String() string { return "watchdog" }

// Serve pings until ctx ends; it never returns nil, which suture would
// take as a request to restart it.
func (w Watchdog) Serve(ctx context.Context) error {
	t := time.NewTicker(w.interval / 2)
	defer t.Stop()
	for {
		w.notify("WATCHDOG=1")
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
