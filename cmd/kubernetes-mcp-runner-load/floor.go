package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// floorMode is the hidden first argument with which this command runs
// itself as the floor: bare go-sdk clients, one session per cluster, that
// do what every subscriber must (initialize, logging/setLevel,
// events_subscribe, the standalone stream) and nothing more: no queue, no
// metrics, no keepalive, no reconnection. What the runner spends beyond it
// is the runner's own.
const floorMode = "floor"

// runFloor connects n sessions to endpoint (endpoint?c=<i> each, as the
// runner's clusters are configured), prints "ready" once all are
// subscribed, then answers "count" (notifications received so far) and
// "goroutines" on stdin until it closes.
func runFloor(args []string, stdout, stderr io.Writer) int {
	if len(args) != 2 {
		fmt.Fprintln(stderr, "floor ENDPOINT SESSIONS")
		return exitUsage
	}
	endpoint := args[0]
	n, err := strconv.Atoi(args[1])
	if err != nil || n < 1 {
		fmt.Fprintf(stderr, "floor: sessions %q\n", args[1])
		return exitUsage
	}
	var received atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sessions := make([]*mcp.ClientSession, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := mcp.NewClient(&mcp.Implementation{Name: "floor", Version: "1"}, &mcp.ClientOptions{
				Logger:                slog.New(slog.DiscardHandler),
				LoggingMessageHandler: func(context.Context, *mcp.LoggingMessageRequest) { received.Add(1) },
			})
			cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: endpoint + "?c=" + strconv.Itoa(i), MaxRetries: -1}, nil)
			if err != nil {
				errs <- err
				return
			}
			sessions[i] = cs
			if err := cs.SetLoggingLevel(ctx, &mcp.SetLoggingLevelParams{Level: "warning"}); err != nil {
				errs <- err
				return
			}
			if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "events_subscribe", Arguments: map[string]any{"mode": "faults"}}); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
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
		default:
			fmt.Fprintln(stdout, "?")
		}
	}
	for _, cs := range sessions {
		_ = cs.Close()
	}
	return exitOK
}
