package main

// The readers mode: many people (or scripts) reading the incidents page
// and /api/incidents at once must not make the probes slow. It seeds a
// state directory with finished incidents, each with an event.json and two
// delivery records, starts the built runner on it, keeps --readers
// concurrent clients reading the page and the whole history for
// --duration, and probes /healthz meanwhile.

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/incident"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/faultsource"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/freeport"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/journal"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/notification"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/queue"
)

const readersMode = "readers"

func runReaders(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(readersMode, flag.ContinueOnError)
	fs.SetOutput(stderr)
	runner := fs.String("runner", defaultRunner(), "the built runner")
	incidents := fs.Int("incidents", 200, "finished incidents in the seeded history")
	readers := fs.Int("readers", 1000, "concurrent readers of the page and /api/incidents")
	duration := fs.Duration("duration", 15*time.Second, "how long the readers read")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	dir, err := os.MkdirTemp("", "kmr-readers-")
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFailure
	}
	defer os.RemoveAll(dir)
	if err := seedHistory(dir, *incidents); err != nil {
		fmt.Fprintf(stderr, "seed: %v\n", err)
		return exitFailure
	}
	src := faultsource.New("prod")
	if err := src.Start("127.0.0.1:0"); err != nil {
		fmt.Fprintln(stderr, err)
		return exitFailure
	}
	defer src.Stop()
	ports, err := freeport.Ports(3)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFailure
	}
	health, metricsPort, ui := ports[0], ports[1], "127.0.0.1:"+strconv.Itoa(ports[2])
	cmd := exec.Command(*runner, "--cluster", "prod="+src.URL(), "--agent-command", "/bin/true",
		"--state-dir", filepath.Join(dir, "state"), "--workspace-root", filepath.Join(dir, "ws"),
		"--health-address", "127.0.0.1", "--health-port", strconv.Itoa(health),
		"--metrics-address", "127.0.0.1", "--metrics-port", strconv.Itoa(metricsPort), "--ui-address", ui)
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(stderr, err)
		return exitFailure
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	healthz := fmt.Sprintf("http://127.0.0.1:%d/healthz", health)
	deadline := time.Now().Add(30 * time.Second)
	for !up(healthz) {
		if time.Now().After(deadline) {
			fmt.Fprintln(stderr, "the runner did not answer /healthz")
			return exitFailure
		}
		time.Sleep(50 * time.Millisecond)
	}

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *readers}, Timeout: time.Minute}
	var stop atomic.Bool
	var ok, busy, failed atomic.Int64
	var wg sync.WaitGroup
	for i := range *readers {
		path := "/api/incidents?limit=0"
		if i%2 == 1 {
			path = "/incidents?limit=200"
		}
		wg.Go(func() {
			for !stop.Load() {
				resp, err := client.Get("http://" + ui + path)
				if err != nil {
					failed.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				switch resp.StatusCode {
				case http.StatusOK:
					ok.Add(1)
				case http.StatusServiceUnavailable:
					busy.Add(1)
				default:
					failed.Add(1)
				}
			}
		})
	}
	probe := &http.Client{Timeout: 10 * time.Second}
	var lat []time.Duration
	end := time.Now().Add(*duration)
	for time.Now().Before(end) {
		t0 := time.Now()
		resp, err := probe.Get(healthz)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		lat = append(lat, time.Since(t0))
		time.Sleep(100 * time.Millisecond)
	}
	peak := peakRSS(cmd.Process.Pid)
	stop.Store(true)
	wg.Wait()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	q := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	fmt.Fprintf(stdout, "| readers | incidents | /healthz probes | p50 | p99 | max | over 1 s | page/API answered | 503 busy | errors | runner peak RSS |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
	over := 0
	for _, l := range lat {
		if l > time.Second {
			over++
		}
	}
	fmt.Fprintf(stdout, "| %d | %d | %d | %s | %s | %s | %d | %d | %d | %d | %d MiB |\n", *readers, *incidents, len(lat),
		q(0.5).Round(100*time.Microsecond), q(0.99).Round(100*time.Microsecond), lat[len(lat)-1].Round(100*time.Microsecond), over,
		ok.Load(), busy.Load(), failed.Load(), peak>>20)
	return exitOK
}

// seedHistory writes n finished incidents of cluster prod into a state
// directory, as records written before the history kept the fault's
// severity (so the page reads each event.json, the expensive case), each
// with a 32 KiB fault context and two delivery records.
func seedHistory(dir string, n int) error {
	store, err := journal.Open(filepath.Join(dir, "state"), journal.Options{HistoryMaxEntries: 10 * n, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	defer store.Close()
	ctx, _ := json.Marshal(map[string]string{"log": strings.Repeat("line of a pod's log\n", 32<<10/20)})
	now := time.Now()
	for i := range n {
		id := fmt.Sprintf("seed-%04d", i)
		ws := filepath.Join(dir, "ws", "prod", id)
		ev := fault.Event{Source: fault.SourceMCP, Cluster: "prod", FaultID: fmt.Sprintf("%016x", i), FaultType: fault.TypeCrashLoop,
			Severity: "critical", Resource: fault.Resource{Kind: "Pod", Namespace: "shop", Name: fmt.Sprintf("api-%d", i)}, Context: ctx, Timestamp: now}
		if err := os.MkdirAll(filepath.Join(ws, incident.OutputDir), 0o700); err != nil {
			return err
		}
		doc, _ := json.Marshal(incident.EventDocument{IncidentID: id, Cluster: "prod", Fault: ev})
		if err := os.WriteFile(filepath.Join(ws, incident.EventFile), doc, 0o600); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(ws, incident.OutputDir, "investigation.md"), []byte("# Root cause\n\nThe pod ran out of memory.\n"), 0o600); err != nil {
			return err
		}
		end := now.Add(time.Duration(i-n) * time.Minute)
		rec := incident.Record{IncidentID: id, Cluster: "prod", FaultID: ev.FaultID, FaultType: ev.FaultType, Status: incident.StatusSuccess,
			Attempts: 1, StartedAt: end.Add(-time.Minute), EndedAt: end, DurationSeconds: 60, Workspace: ws}
		if err := store.Start(journal.InFlight{IncidentID: id, Item: queue.Item{Cluster: "prod", Event: ev}}); err != nil {
			return err
		}
		n := notification.NewIncident(notification.IncidentInput{Incident: notification.Incident{ID: id, Cluster: "prod", EndedAt: end,
			Fault: notification.Fault{ID: ev.FaultID, Type: ev.FaultType, Context: ctx}}, ReportText: []byte("# Root cause\n")}, notification.DocOptions{})
		if err := store.FinishNotify(rec, notification.NewRecords(n, []string{"hook", "oncall"}, end)); err != nil {
			return err
		}
	}
	return nil
}

func up(url string) bool {
	resp, err := http.Get(url)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// peakRSS is a process's peak resident set (VmHWM), in bytes.
func peakRSS(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}
