package agentjob

import (
	"archive/tar"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/incident"
)

// The results channel: the entrypoint in the pod calls
//
//	POST /v1/runs/<job name>/start    once, before it starts the agent
//	POST /v1/runs/<job name>/result   a tar of the workspace, status.json first
//
// with "Authorization: Bearer <the run's one-time token>". A run accepts
// one result: a second one is refused with 409, so a retried upload whose
// first attempt got through is not written twice.

// StatusFile is the first entry of a result upload.
const StatusFile = "status.json"

// Status is how the agent ended in the pod, as the entrypoint saw it.
type Status struct {
	ExitCode        int       `json:"exitCode"`
	Signal          string    `json:"signal,omitempty"`
	TimedOut        bool      `json:"timedOut,omitempty"`
	Killed          bool      `json:"killed,omitempty"`
	OutputBytes     int64     `json:"outputBytes"`
	OutputTruncated bool      `json:"outputTruncated,omitempty"`
	StartedAt       time.Time `json:"startedAt"`
	EndedAt         time.Time `json:"endedAt"`
}

// maxStatusBytes bounds status.json and the start call's body.
const maxStatusBytes = 4 << 10

// Limits bound what one run may send back.
type Limits struct {
	// LogMaxBytes caps agent.log (as --agent-log-max-bytes does locally).
	LogMaxBytes int64
	// TotalBytes caps the whole upload; past it the upload is refused
	// with 413 after what fits was written, so the workspace cap check
	// sees an over-size workspace.
	TotalBytes int64
}

// Outcome is a received result.
type Outcome struct {
	Status Status
	// Err is set when the upload was refused part way (over its limit,
	// or not a well-formed archive).
	Err error
}

// Results is the runner's end of the channel: an http.Handler that
// accepts the uploads of the runs it expects.
type Results struct {
	logger *slog.Logger
	mu     sync.Mutex
	runs   map[string]*Expected
}

// NewResults returns an empty channel.
func NewResults(logger *slog.Logger) *Results {
	return &Results{logger: logger.With("component", "agent-job-results"), runs: make(map[string]*Expected)}
}

// Expected is one run the channel waits for.
type Expected struct {
	token     []byte
	workspace string
	limits    Limits

	started     chan struct{}
	startedOnce sync.Once
	done        chan Outcome
	mu          sync.Mutex
	received    bool
}

// Started is closed when the entrypoint reported the agent starting.
func (e *Expected) Started() <-chan struct{} { return e.started }

// Done delivers the run's result once.
func (e *Expected) Done() <-chan Outcome { return e.done }

// Expect registers a run: its token, the workspace its files go to and
// their limits. Forget it when the run is over.
func (r *Results) Expect(name, token, workspace string, lim Limits) *Expected {
	e := &Expected{token: []byte(token), workspace: workspace, limits: lim,
		started: make(chan struct{}), done: make(chan Outcome, 1)}
	r.mu.Lock()
	r.runs[name] = e
	r.mu.Unlock()
	return e
}

// Forget stops accepting a run's uploads.
func (r *Results) Forget(name string, e *Expected) {
	r.mu.Lock()
	if r.runs[name] == e {
		delete(r.runs, name)
	}
	r.mu.Unlock()
}

// ServeHTTP implements the channel.
func (r *Results) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	rest, ok := strings.CutPrefix(req.URL.Path, "/v1/runs/")
	name, action, ok2 := strings.Cut(rest, "/")
	if !ok || !ok2 || req.Method != http.MethodPost {
		http.NotFound(w, req)
		return
	}
	r.mu.Lock()
	e := r.runs[name]
	r.mu.Unlock()
	token, hasToken := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer ")
	// An unknown run and a wrong token answer alike: nothing tells a
	// caller which runs exist.
	if e == nil || !hasToken || subtle.ConstantTimeCompare([]byte(token), e.token) != 1 {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	switch action {
	case "start":
		_, _ = io.Copy(io.Discard, io.LimitReader(req.Body, maxStatusBytes))
		e.startedOnce.Do(func() { close(e.started) })
		w.WriteHeader(http.StatusNoContent)
	case "result":
		e.mu.Lock()
		defer e.mu.Unlock()
		if e.received {
			http.Error(w, "result already received", http.StatusConflict)
			return
		}
		e.startedOnce.Do(func() { close(e.started) })
		body := http.MaxBytesReader(w, req.Body, e.limits.TotalBytes)
		st, err := receive(body, e.workspace, e.limits)
		if errors.Is(err, errNoStatus) {
			// Nothing usable arrived: the entrypoint may try again.
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		e.received = true
		e.done <- Outcome{Status: st, Err: err}
		var tooLarge *http.MaxBytesError
		switch {
		case errors.As(err, &tooLarge):
			r.logger.Warn("Agent job result over its size limit; kept what fit", "job", name, "max_bytes", e.limits.TotalBytes)
			http.Error(w, "result too large", http.StatusRequestEntityTooLarge)
		case err != nil:
			r.logger.Warn("Agent job result malformed; kept what was read", "job", name, "error", err.Error())
			http.Error(w, err.Error(), http.StatusBadRequest)
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	default:
		http.NotFound(w, req)
	}
}

var errNoStatus = errors.New("result must begin with " + StatusFile)

// receive writes an upload into ws: status.json first, then agent.log
// (capped at LogMaxBytes) and the agent's files. event.json and
// result.json are the runner's and are never taken from the pod; names
// must stay inside the workspace and only regular files and directories
// are written.
func receive(body io.Reader, ws string, lim Limits) (Status, error) {
	var st Status
	tr := tar.NewReader(body)
	h, err := tr.Next()
	if err != nil || h.Name != StatusFile {
		return st, errNoStatus
	}
	if err := json.NewDecoder(io.LimitReader(tr, maxStatusBytes)).Decode(&st); err != nil {
		return st, fmt.Errorf("%w: %v", errNoStatus, err)
	}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return st, nil
		}
		if err != nil {
			return st, fmt.Errorf("read result archive: %w", err)
		}
		name := filepath.Clean(filepath.FromSlash(h.Name))
		if !filepath.IsLocal(name) {
			return st, fmt.Errorf("result entry %q is outside the workspace", h.Name)
		}
		switch name {
		case incident.EventFile, incident.ResultFile, StatusFile:
			continue
		}
		target := filepath.Join(ws, name)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o700); err != nil {
				return st, fmt.Errorf("write result: %w", err)
			}
			continue
		case tar.TypeReg:
		default:
			continue // links and devices are not results
		}
		var src io.Reader = tr
		if name == incident.LogFile && lim.LogMaxBytes > 0 {
			src = io.LimitReader(tr, lim.LogMaxBytes)
		}
		if err := writeEntry(target, src); err != nil {
			return st, err
		}
		if name == incident.LogFile && lim.LogMaxBytes > 0 {
			if n, _ := io.Copy(io.Discard, tr); n > 0 {
				st.OutputTruncated = true
			}
		}
	}
}

func writeEntry(target string, src io.Reader) error {
	if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
		return fmt.Errorf("write result: %w", err)
	}
	f, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("write result: %w", err)
	}
	_, err = io.Copy(f, src)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write result %s: %w", filepath.Base(target), err)
	}
	return nil
}

func (r *Results) expecting(name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.runs[name]
	return ok
}
