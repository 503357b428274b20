package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/services/mcpsession"
)

// floorMode is the hidden first argument with which this command runs
// itself as a floor: one session per endpoint that does what every
// subscriber must (initialize with the runner's pinned protocol version,
// logging/setLevel, events_subscribe, the standalone stream, a keepalive
// ping every interval, idle connections closed after a second, as the
// runner's transport does) and nothing more: no queue, no metrics, no
// reconnection. What the runner spends beyond it is the runner's own.
//
// The floor is either bare go-sdk clients ("sdk") or raw readers ("raw"):
// a handshake of plain HTTP requests and a reader of the event stream
// that parses the fields the runner parses (rawfloor.go), what the bytes
// allow.
const floorMode = "floor"

// floorCommands are what a floor answers on stdin, one line each:
// "count" (faults received so far), "goroutines", and "gc" (collects
// idleCollections times, then answers "HEAP STACKS", the bytes in use).

// runFloor reads its endpoints from the file args[1], connects one session
// to each (at most args[3] handshakes at once, 0 for no bound), prints
// "ready" once all are subscribed, then answers floorCommands until stdin
// closes.
func runFloor(args []string, stdout, stderr io.Writer) int {
	if len(args) != 4 || (args[0] != "sdk" && args[0] != "raw") {
		fmt.Fprintln(stderr, "floor sdk|raw ENDPOINTS-FILE KEEPALIVE CONCURRENCY")
		return exitUsage
	}
	data, err := os.ReadFile(args[1])
	keepalive, err2 := time.ParseDuration(args[2])
	concurrency, err3 := strconv.Atoi(args[3])
	if err != nil || err2 != nil || err3 != nil {
		fmt.Fprintf(stderr, "floor: %v %v %v\n", err, err2, err3)
		return exitUsage
	}
	endpoints := strings.Fields(string(data))
	var received atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// One transport for every session, as the runner shares one per CA
	// bundle; each cluster has its own address, so nothing is pooled
	// across clusters.
	transport := &http.Transport{IdleConnTimeout: min(keepalive/2, time.Second), MaxIdleConnsPerHost: 8}
	httpClient := &http.Client{Transport: transport}
	var closers []func()
	var mu sync.Mutex
	connect := func(ep string) error {
		var closeFn func()
		var err error
		if args[0] == "raw" {
			closeFn, err = rawSubscribe(ctx, httpClient, ep, keepalive, func() { received.Add(1) })
		} else {
			closeFn, err = sdkSubscribe(ctx, httpClient, ep, keepalive, func() { received.Add(1) })
		}
		if err == nil {
			mu.Lock()
			closers = append(closers, closeFn)
			mu.Unlock()
		}
		return err
	}
	if err := forEach(endpoints, concurrency, connect); err != nil {
		fmt.Fprintf(stderr, "floor: %v\n", err)
		return exitFailure
	}
	fmt.Fprintln(stdout, "ready")
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		switch sc.Text() {
		case "count":
			fmt.Fprintln(stdout, received.Load())
		case "goroutines":
			fmt.Fprintln(stdout, runtime.NumGoroutine())
		case "gc":
			for range idleCollections {
				runtime.GC()
			}
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			fmt.Fprintln(stdout, ms.HeapInuse, ms.StackInuse)
		default:
			fmt.Fprintln(stdout, "?")
		}
	}
	cancel()
	for _, c := range closers {
		c()
	}
	return exitOK
}

// forEach runs fn for every endpoint, at most concurrency at once (0: all
// at once), and returns the first error.
func forEach(endpoints []string, concurrency int, fn func(string) error) error {
	if concurrency <= 0 {
		concurrency = len(endpoints)
	}
	sem := make(chan struct{}, concurrency)
	errs := make(chan error, len(endpoints))
	var wg sync.WaitGroup
	for _, ep := range endpoints {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := fn(ep); err != nil {
				errs <- fmt.Errorf("%s: %w", ep, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// sdkSubscribe is one bare go-sdk session: the SDK's own keepalive, the
// runner's protocol version, no retries.
func sdkSubscribe(ctx context.Context, httpClient *http.Client, endpoint string, keepalive time.Duration, onFault func()) (func(), error) {
	client := mcp.NewClient(&mcp.Implementation{Name: "floor", Version: "1"}, &mcp.ClientOptions{
		Logger:                slog.New(slog.DiscardHandler),
		KeepAlive:             keepalive,
		LoggingMessageHandler: func(context.Context, *mcp.LoggingMessageRequest) { onFault() },
	})
	cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: endpoint, HTTPClient: httpClient, MaxRetries: -1},
		&mcp.ClientSessionOptions{ProtocolVersion: mcpsession.ProtocolVersion})
	if err != nil {
		return nil, err
	}
	if err := cs.SetLoggingLevel(ctx, &mcp.SetLoggingLevelParams{Level: "warning"}); err != nil {
		_ = cs.Close()
		return nil, err
	}
	if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "events_subscribe", Arguments: map[string]any{"mode": "faults"}}); err != nil {
		_ = cs.Close()
		return nil, err
	}
	return func() { _ = cs.Close() }, nil
}
