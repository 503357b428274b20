package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/services/mcpsession"
)

// rawSubscribe is the raw floor's session: the Streamable HTTP handshake
// as plain requests, then one goroutine that reads the standalone event
// stream line by line and decodes each fault notification's payload with
// the runner's own parser (mcpsession.ParseFault: the same fields, the
// same validation). Nothing else is decoded, nothing queued. It pings the
// server every keepalive, as the runner does.
func rawSubscribe(ctx context.Context, c *http.Client, endpoint string, keepalive time.Duration, onFault func()) (func(), error) {
	r := &rawSession{c: c, endpoint: endpoint}
	res, err := r.call(ctx, "initialize", map[string]any{
		"protocolVersion": mcpsession.ProtocolVersion,
		"capabilities":    map[string]any{},
		"clientInfo":      map[string]any{"name": "raw-floor", "version": "1"},
	})
	if err != nil {
		return nil, fmt.Errorf("initialize: %w", err)
	}
	var init struct {
		ProtocolVersion string `json:"protocolVersion"`
	}
	if err := json.Unmarshal(res, &init); err != nil || init.ProtocolVersion == "" {
		return nil, fmt.Errorf("initialize: no protocol version in %.200s", res)
	}
	r.version = init.ProtocolVersion
	if err := r.notify(ctx, "notifications/initialized"); err != nil {
		return nil, err
	}
	streamCtx, endStream := context.WithCancel(ctx)
	req, err := http.NewRequestWithContext(streamCtx, http.MethodGet, endpoint, nil)
	if err != nil {
		endStream()
		return nil, err
	}
	r.headers(req)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := c.Do(req)
	if err != nil {
		endStream()
		return nil, fmt.Errorf("event stream: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		endStream()
		return nil, fmt.Errorf("event stream: HTTP %d", resp.StatusCode)
	}
	go readFaults(resp.Body, onFault)
	if _, err := r.call(ctx, "logging/setLevel", map[string]any{"level": "warning"}); err != nil {
		endStream()
		return nil, fmt.Errorf("logging/setLevel: %w", err)
	}
	if _, err := r.call(ctx, "tools/call", map[string]any{"name": "events_subscribe", "arguments": map[string]any{"mode": "faults"}}); err != nil {
		endStream()
		return nil, fmt.Errorf("events_subscribe: %w", err)
	}
	go func() {
		t := time.NewTicker(keepalive)
		defer t.Stop()
		for {
			select {
			case <-streamCtx.Done():
				return
			case <-t.C:
				pingCtx, cancel := context.WithTimeout(streamCtx, keepalive/2)
				_, _ = r.call(pingCtx, "ping", nil)
				cancel()
			}
		}
	}()
	return func() {
		endStream()
		resp.Body.Close()
		r.terminate()
	}, nil
}

// terminate ends the session on the server, as the SDK's Close does, so
// the server forgets its subscription at once.
func (r *rawSession) terminate() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, r.endpoint, nil)
	if err != nil {
		return
	}
	r.headers(req)
	if resp, err := r.c.Do(req); err == nil {
		resp.Body.Close()
	}
}

type rawSession struct {
	c        *http.Client
	endpoint string
	id       string // Mcp-Session-Id
	version  string
	next     atomic.Int64
}

func (r *rawSession) headers(req *http.Request) {
	if r.id != "" {
		req.Header.Set("Mcp-Session-Id", r.id)
	}
	if r.version != "" {
		req.Header.Set("Mcp-Protocol-Version", r.version)
	}
}

func (r *rawSession) post(ctx context.Context, body []byte) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	r.headers(req)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	return r.c.Do(req)
}

func (r *rawSession) notify(ctx context.Context, method string) error {
	resp, err := r.post(ctx, []byte(`{"jsonrpc":"2.0","method":"`+method+`"}`))
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s: HTTP %d", method, resp.StatusCode)
	}
	return nil
}

// call sends one request and returns its result, read from a JSON answer
// or from the first message of an event-stream answer.
func (r *rawSession) call(ctx context.Context, method string, params any) (json.RawMessage, error) {
	msg := map[string]any{"jsonrpc": "2.0", "id": r.next.Add(1), "method": method}
	if params != nil {
		msg["params"] = params
	}
	body, _ := json.Marshal(msg)
	resp, err := r.post(ctx, body)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	if id := resp.Header.Get("Mcp-Session-Id"); id != "" {
		r.id = id
	}
	var payload []byte
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 0, 4096), 1<<20)
		for sc.Scan() {
			if d, ok := strings.CutPrefix(sc.Text(), "data:"); ok {
				payload = []byte(strings.TrimSpace(d))
				break
			}
		}
	} else if payload, err = io.ReadAll(io.LimitReader(resp.Body, 1<<20)); err != nil {
		return nil, err
	}
	var reply struct {
		Result json.RawMessage `json:"result"`
		Error  *struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(payload, &reply); err != nil {
		return nil, fmt.Errorf("reply %.200q: %w", payload, err)
	}
	if reply.Error != nil {
		return nil, errors.New(reply.Error.Message)
	}
	return reply.Result, nil
}

// readFaults reads an event stream and counts the fault notifications
// whose payload the runner's parser accepts.
func readFaults(body io.ReadCloser, onFault func()) {
	defer body.Close()
	br := bufio.NewReaderSize(body, 1024)
	var env struct {
		Method string `json:"method"`
		Params struct {
			Logger string          `json:"logger"`
			Data   json.RawMessage `json:"data"`
		} `json:"params"`
	}
	var long []byte // a line longer than the reader's buffer, gathered
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			long = append(long, line...)
			continue
		}
		if long != nil {
			line, long = append(long, line...), nil
		}
		if d, ok := bytes.CutPrefix(line, []byte("data:")); ok {
			env.Method, env.Params.Logger, env.Params.Data = "", "", nil
			if json.Unmarshal(d, &env) == nil && env.Method == "notifications/message" && env.Params.Logger == mcpsession.LoggerFaults {
				if _, perr := mcpsession.ParseFault(env.Params.Data); perr == nil {
					onFault()
				}
			}
		}
		if err != nil {
			return
		}
	}
}
