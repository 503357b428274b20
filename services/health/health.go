// Package health implements the liveness (/healthz) and readiness (/readyz)
// handlers.
//
// /healthz answers 200 "ok" while the process is running normally and 503
// "Shutting down" once shutdown has begun, so Kubernetes stops routing and
// does not restart a pod that is draining agents.
//
// /readyz answers 200 only when every check passes; otherwise 503 with each
// failing reason on its own line. With ?verbose it lists every check as
// "[+]name ok" or "[-]name failed: reason", like the Kubernetes API server.
package health

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

// ResponseTimeout bounds every probe answer.
const ResponseTimeout = time.Second

// Check is one readiness condition; Fn returns nil when it holds.
type Check struct {
	Name string
	Fn   func() error
	// Detail, when set, adds indented lines under the check in verbose
	// output, whether it passes or not.
	Detail func() []string
}

// Handlers holds what the probes look at.
type Handlers struct {
	shuttingDown func() bool
	checks       []Check
}

// New returns the probe handlers. Readiness always includes the shutdown
// flag, first.
func New(shuttingDown func() bool, checks ...Check) *Handlers {
	all := append([]Check{{Name: "shutdown", Fn: func() error {
		if shuttingDown() {
			return errShuttingDown
		}
		return nil
	}}}, checks...)
	return &Handlers{shuttingDown: shuttingDown, checks: all}
}

type stringError string

func (e stringError) Error() string { return string(e) }

const errShuttingDown = stringError("shutting down")

// Liveness is the /healthz handler.
func (h *Handlers) Liveness(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if h.shuttingDown() {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, "Shutting down")
		return
	}
	fmt.Fprintln(w, "ok")
}

// Readiness is the /readyz handler.
func (h *Handlers) Readiness(w http.ResponseWriter, r *http.Request) {
	_, verbose := r.URL.Query()["verbose"]
	var failed []string
	var lines []string
	for _, c := range h.checks {
		if err := c.Fn(); err != nil {
			failed = append(failed, err.Error())
			lines = append(lines, fmt.Sprintf("[-]%s failed: %v", c.Name, err))
		} else {
			lines = append(lines, fmt.Sprintf("[+]%s ok", c.Name))
		}
		if verbose && c.Detail != nil {
			for _, d := range c.Detail() {
				lines = append(lines, "    "+d)
			}
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if len(failed) > 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	switch {
	case verbose:
		fmt.Fprintln(w, strings.Join(lines, "\n"))
		if len(failed) > 0 {
			fmt.Fprintln(w, "readyz check failed")
		} else {
			fmt.Fprintln(w, "readyz check passed")
		}
	case len(failed) > 0:
		fmt.Fprintln(w, strings.Join(failed, "\n"))
	default:
		fmt.Fprintln(w, "ok")
	}
}

// Mux serves /healthz and /readyz, each bounded by ResponseTimeout.
func (h *Handlers) Mux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("GET /healthz", http.TimeoutHandler(http.HandlerFunc(h.Liveness), ResponseTimeout, "health check timed out\n"))
	mux.Handle("GET /readyz", http.TimeoutHandler(http.HandlerFunc(h.Readiness), ResponseTimeout, "readiness check timed out\n"))
	return mux
}
