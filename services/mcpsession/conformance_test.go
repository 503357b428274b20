package mcpsession

// Conformance with the real kubernetes-mcp-server: the bytes it sent, as
// recorded in internal/recordings/upstream (copies of the project's
// recordings, compared with them where they lie beside the checkout), are
// replayed over real HTTP to the runner's real client path, and the
// stand-in is checked against them. Every file there must be used by a
// test below.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/config"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/intake"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/faultsource"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/recordings"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/testlog"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/metrics"
)

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := fs.ReadFile(recordings.Upstream(), name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Every recorded file is used by a test in this file.
var fixtureUses = map[string]string{
	"README.md":                                             "describes the others",
	"initialize.headers.txt":                                "TestConformanceReplay*",
	"initialize.response.json":                              "TestConformanceReplay*, TestConformanceStandInInitialize",
	"setLevel.response.json":                                "TestConformanceReplay*",
	"ping.response.json":                                    "TestConformanceReplay*",
	"subscribe.response.json":                               "TestConformanceReplaySingleCluster, TestConformanceSubscribeResults",
	"subscribe-bad-mode.response.json":                      "TestConformanceReplayRefusals, TestConformanceSubscribeResults",
	"subscribe-bad-filter.response.json":                    "TestConformanceReplayRefusals, TestConformanceSubscribeResults",
	"list-subscriptions.response.json":                      "TestConformanceStandInListSubscriptions",
	"events-tools.schema.json":                              "TestConformanceStandInTools",
	"stream.notifications.jsonl":                            "TestConformanceReplaySingleCluster",
	"multi-context.events-tools.schema.json":                "TestConformanceStandInTools",
	"multi-context.stream.notifications.jsonl":              "TestConformanceReplayMultiContext",
	"multi-context.subscribe-eu-prod.response.json":         "TestConformanceReplayMultiContext, TestConformanceSubscribeResults",
	"multi-context.subscribe-us-prod.response.json":         "TestConformanceReplayMultiContext, TestConformanceSubscribeResults",
	"multi-context.subscribe-unknown-context.response.json": "TestConformanceReplayMultiContext",
}

func TestConformanceEveryFixtureIsUsed(t *testing.T) {
	entries, err := fs.ReadDir(recordings.Upstream(), ".")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if _, ok := fixtureUses[e.Name()]; !ok {
			t.Errorf("fixture %s is not fed through any conformance test", e.Name())
		}
	}
	if len(entries) < len(fixtureUses) {
		t.Errorf("%d fixtures found, %d expected", len(entries), len(fixtureUses))
	}
}

// resultOf decodes a recorded JSON-RPC response's result as a tool result.
func resultOf(t *testing.T, name string) *mcp.CallToolResult {
	t.Helper()
	var msg struct {
		Result json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(readFixture(t, name), &msg); err != nil {
		t.Fatal(err)
	}
	var res mcp.CallToolResult
	if err := json.Unmarshal(msg.Result, &res); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return &res
}

func TestConformanceSubscribeResults(t *testing.T) {
	for file, want := range map[string]string{
		"subscribe.response.json":                       "sub-3e0687ad",
		"multi-context.subscribe-eu-prod.response.json": "sub-e4b49122",
		"multi-context.subscribe-us-prod.response.json": "sub-4f3afe7d",
	} {
		sub, err := parseSubscribeResult(resultOf(t, file))
		if err != nil || sub.SubscriptionID != want {
			t.Errorf("%s: got %+v, %v; want %s", file, sub, err, want)
		}
	}
	for file, text := range map[string]string{
		"subscribe-bad-mode.response.json":   "failed to create subscription: invalid mode: must be 'events' or 'faults'",
		"subscribe-bad-filter.response.json": "invalid subscription filters: faults mode cannot filter for Normal events",
	} {
		_, err := parseSubscribeResult(resultOf(t, file))
		var refused *RefusedError
		if !errors.As(err, &refused) || refused.Message != text {
			t.Errorf("%s: got %v; want a refusal saying %q", file, err, text)
		}
	}
}

// replay is an MCP Streamable HTTP endpoint that answers with recorded
// bytes: each request gets the recorded response to its method (its id
// replaced by the request's), and the standalone GET stream carries the
// recorded notifications once the subscribes are answered.
type replay struct {
	t         *testing.T
	sessionID string
	answers   map[string][]byte // method → recorded response
	// subscribe picks the recorded events_subscribe answer for arguments.
	subscribe func(args map[string]any) []byte
	stream    [][]byte
	// subscribes is how many subscribe answers release the stream.
	subscribes int

	mu       sync.Mutex
	answered int
	release  chan struct{}
	calls    []map[string]any
	streams  int
}

func newReplay(t *testing.T, subscribes int, subscribe func(map[string]any) []byte, stream string) *httptest.Server {
	r := &replay{
		t: t, subscribe: subscribe, subscribes: subscribes, release: make(chan struct{}),
		answers: map[string][]byte{
			"initialize":       readFixture(t, "initialize.response.json"),
			"logging/setLevel": readFixture(t, "setLevel.response.json"),
			"ping":             readFixture(t, "ping.response.json"),
		},
	}
	headers := string(readFixture(t, "initialize.headers.txt"))
	r.sessionID = regexp.MustCompile(`(?m)^Mcp-Session-Id: (\S+)`).FindStringSubmatch(headers)[1]
	sc := bufio.NewScanner(bytes.NewReader(readFixture(t, stream)))
	for sc.Scan() {
		if line := bytes.TrimSpace(sc.Bytes()); len(line) > 0 {
			r.stream = append(r.stream, slices.Clone(line))
		}
	}
	// One fault more, not recorded, after the recording: once it has
	// arrived, every recorded line before it has been handled.
	r.stream = append(r.stream, bytes.Replace(r.stream[0], []byte(`"faultId": "`), []byte(`"faultId": "end-of-recording-`), 1))
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv
}

func (r *replay) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	switch req.Method {
	case http.MethodDelete:
		return
	case http.MethodGet:
		r.serveStream(w, req)
		return
	}
	body, _ := io.ReadAll(req.Body)
	var msg struct {
		ID     json.RawMessage `json:"id"`
		Method string          `json:"method"`
		Params struct {
			Name      string         `json:"name"`
			Arguments map[string]any `json:"arguments"`
		} `json:"params"`
	}
	if err := json.Unmarshal(body, &msg); err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	if msg.Method != "initialize" && req.Header.Get("Mcp-Session-Id") != r.sessionID {
		http.Error(w, "unknown session", http.StatusNotFound)
		return
	}
	if len(msg.ID) == 0 { // a notification
		w.WriteHeader(http.StatusAccepted)
		return
	}
	recorded, ok := r.answers[msg.Method]
	if msg.Method == "tools/call" && msg.Params.Name == "events_subscribe" {
		recorded, ok = r.subscribe(msg.Params.Arguments), true
		r.mu.Lock()
		r.calls = append(r.calls, msg.Params.Arguments)
		r.answered++
		if r.answered == r.subscribes {
			defer close(r.release)
		}
		r.mu.Unlock()
	}
	if !ok {
		// What a server before server/discover answers to it.
		http.Error(w, "unsupported method", http.StatusBadRequest)
		return
	}
	var resp map[string]json.RawMessage
	if err := json.Unmarshal(recorded, &resp); err != nil {
		r.t.Errorf("recorded answer to %s: %v", msg.Method, err)
		return
	}
	resp["id"] = msg.ID
	out, _ := json.Marshal(resp)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Mcp-Session-Id", r.sessionID)
	_, _ = w.Write([]byte("event: message\ndata: " + string(out) + "\n\n"))
}

func (r *replay) serveStream(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.streams++
	first := r.streams == 1
	r.mu.Unlock()
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	w.(http.Flusher).Flush()
	if first {
		select {
		case <-r.release:
		case <-req.Context().Done():
			return
		}
		for _, line := range r.stream {
			var compact bytes.Buffer
			_ = json.Compact(&compact, line)
			_, _ = w.Write([]byte("event: message\ndata: " + compact.String() + "\n\n"))
		}
		w.(http.Flusher).Flush()
	}
	<-req.Context().Done()
}

// recorder is a Handler that keeps what it is given.
type recordingHandler struct {
	mu        sync.Mutex
	faults    map[string][]fault.Event
	malformed map[string][]error
}

func newRecordingHandler() *recordingHandler {
	return &recordingHandler{faults: map[string][]fault.Event{}, malformed: map[string][]error{}}
}

func (h *recordingHandler) Submit(cluster string, ev fault.Event) intake.Outcome {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.faults[cluster] = append(h.faults[cluster], ev)
	return intake.Queued
}

func (h *recordingHandler) Malformed(cluster, _ string, err error) intake.Outcome {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.malformed[cluster] = append(h.malformed[cluster], err)
	return intake.Malformed
}

func (h *recordingHandler) bad(cluster string) []error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.malformed[cluster])
}

func (h *recordingHandler) got(cluster string) []fault.Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.faults[cluster])
}

type conformanceRun struct {
	set     *Set
	h       *recordingHandler
	m       *metrics.Metrics
	logs    *testlog.Buffer
	stopped chan struct{}
}

func runSet(t *testing.T, clusters []config.Cluster) *conformanceRun {
	t.Helper()
	names := make([]string, len(clusters))
	for i, c := range clusters {
		names[i] = c.Name
	}
	r := &conformanceRun{h: newRecordingHandler(), logs: &testlog.Buffer{}, stopped: make(chan struct{})}
	r.m = metrics.New(prometheus.NewRegistry(), metrics.BuildInfo{}, names)
	r.set = NewSet(clusters, Options{
		Handler: r.h, Metrics: r.m, Logger: slog.New(slog.NewJSONHandler(r.logs, nil)),
		InitialDelay: 20 * time.Millisecond, MaxDelay: 100 * time.Millisecond,
		Keepalive: 10 * time.Second, ConnectTimeout: 5 * time.Second, MaxEventBytes: 1 << 20,
	})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, s := range r.set.Sessions() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = s.Serve(ctx)
		}()
	}
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		if t.Failed() {
			t.Logf("logs:\n%s", r.logs.String())
		}
	})
	return r
}

// want is what the runner must make of a recorded fault notification.
type want struct {
	id, typ, severity, apiVersion, kind, namespace, name, subscription, cluster string
}

func checkFaults(t *testing.T, cluster string, got []fault.Event, wants []want) {
	t.Helper()
	if len(got) != len(wants) {
		t.Fatalf("%s: %d faults, want %d: %+v", cluster, len(got), len(wants), got)
	}
	for i, w := range wants {
		e := got[i]
		if e.FaultID != w.id || e.FaultType != w.typ || e.Severity != w.severity || e.Resource.APIVersion != w.apiVersion ||
			e.Resource.Kind != w.kind || e.Resource.Namespace != w.namespace || e.Resource.Name != w.name ||
			e.SubscriptionID != w.subscription || e.Cluster != w.cluster || e.Source != fault.SourceMCP ||
			e.Resource.UID == "" || e.Timestamp.IsZero() || len(e.Context) == 0 {
			t.Errorf("%s fault %d: got %+v, want %+v", cluster, i, e, w)
		}
	}
}

func TestConformanceReplaySingleCluster(t *testing.T) {
	srv := newReplay(t, 1, func(map[string]any) []byte { return readFixture(t, "subscribe.response.json") }, "stream.notifications.jsonl")
	r := runSet(t, []config.Cluster{{Name: "prod", Endpoint: srv.URL + "/mcp", Transport: config.TransportStreamable, Triage: true}})
	waitFor(t, "the recorded stream read to its end", func() bool { return len(r.h.got("prod")) >= 6 })
	got := r.h.got("prod")
	if !strings.HasPrefix(got[5].FaultID, "end-of-recording-") || len(got) != 6 {
		t.Fatalf("the list_changed notifications became faults: %+v", got[5:])
	}
	checkFaults(t, "prod", got[:5], []want{
		{"c1f95e4c3588e1f1", "PodCrash", "warning", "v1", "Pod", "default", "cap1", "sub-3e0687ad", ""},
		{"50b27e105a535f1d", "CrashLoop", "critical", "v1", "Pod", "default", "cap1", "sub-3e0687ad", ""},
		{"9a6948b8b7c62f0f", "NodeUnhealthy", "critical", "v1", "Node", "", "node-a", "sub-3e0687ad", ""},
		{"c184320fe2f107fd", "DeploymentFailure", "critical", "apps/v1", "Deployment", "default", "web", "sub-3e0687ad", ""},
		{"73f214c98cbe889b", "JobFailure", "critical", "batch/v1", "Job", "default", "batch", "sub-3e0687ad", ""},
	})
	if !r.set.Connected("prod") {
		t.Error("not connected after the recorded subscribe answer")
	}
	if m := r.h.bad("prod"); len(m) != 0 {
		t.Errorf("recorded notifications were taken for malformed faults: %v", m)
	}
	logs := r.logs.String()
	if strings.Contains(logs, "list_changed") || strings.Contains(logs, `"level":"WARN"`) || strings.Contains(logs, `"level":"ERROR"`) {
		t.Errorf("the recorded stream produced warnings or list_changed lines:\n%s", logs)
	}
}

func TestConformanceReplayMultiContext(t *testing.T) {
	byContext := map[string]string{
		"eu-prod": "multi-context.subscribe-eu-prod.response.json",
		"us-prod": "multi-context.subscribe-us-prod.response.json",
	}
	srv := newReplay(t, 3, func(args map[string]any) []byte {
		ctx, _ := args["context"].(string)
		if f, ok := byContext[ctx]; ok {
			return readFixture(t, f)
		}
		return readFixture(t, "multi-context.subscribe-unknown-context.response.json")
	}, "multi-context.stream.notifications.jsonl")
	cl := func(name, context string) config.Cluster {
		return config.Cluster{Name: name, Endpoint: srv.URL + "/mcp", Transport: config.TransportStreamable, Triage: true, Context: context}
	}
	r := runSet(t, []config.Cluster{cl("eu", "eu-prod"), cl("us", "us-prod"), cl("gone", "nope")})
	if n := len(r.set.Sessions()); n != 1 {
		t.Fatalf("%d sessions for three contexts of one server, want 1", n)
	}
	waitFor(t, "the recorded stream read to its end", func() bool { return len(r.h.got("eu")) >= 3 && len(r.h.got("us")) >= 2 })
	checkFaults(t, "eu", r.h.got("eu")[:2], []want{
		{"aee417bb702c23ba", "PodCrash", "warning", "v1", "Pod", "default", "multi1", "sub-e4b49122", "eu-prod"},
		{"e0826e514ae89182", "CrashLoop", "critical", "v1", "Pod", "default", "multi1", "sub-e4b49122", "eu-prod"},
	})
	checkFaults(t, "us", r.h.got("us"), []want{
		{"dfd39ad946962078", "PodCrash", "warning", "v1", "Pod", "default", "multi1", "sub-4f3afe7d", "us-prod"},
		{"61bde0eeebdc27b3", "CrashLoop", "critical", "v1", "Pod", "default", "multi1", "sub-4f3afe7d", "us-prod"},
	})
	if got := r.h.got("gone"); len(got) != 0 {
		t.Errorf("the unknown context got faults: %+v", got)
	}
	waitFor(t, "unknown context refused", func() bool {
		return testutil.ToFloat64(r.m.SSEConnectionErrors.WithLabelValues("gone", ReasonSubscribeRefused)) >= 1
	})
	if !strings.Contains(r.logs.String(), `"server_message":"failed to create kubernetes rest config from kubeconfig: context \"nope\" does not exist"`) {
		t.Error("the unknown context's refusal is not logged in the server's words")
	}
	if r.set.Connected("gone") || !r.set.Connected("eu") || !r.set.Connected("us") {
		t.Error("an unknown context took the session's other clusters down, or counted as subscribed")
	}
	if strings.Contains(r.logs.String(), "differently than configured") {
		t.Error("contexts named as configured were reported as a mismatch")
	}
}

func TestConformanceReplayRefusals(t *testing.T) {
	for file, text := range map[string]string{
		"subscribe-bad-mode.response.json":   "failed to create subscription: invalid mode: must be 'events' or 'faults'",
		"subscribe-bad-filter.response.json": "invalid subscription filters: faults mode cannot filter for Normal events",
	} {
		t.Run(file, func(t *testing.T) {
			srv := newReplay(t, 1, func(map[string]any) []byte { return readFixture(t, file) }, "stream.notifications.jsonl")
			r := runSet(t, []config.Cluster{{Name: "prod", Endpoint: srv.URL + "/mcp", Transport: config.TransportStreamable, Triage: true}})
			waitFor(t, "a refusal", func() bool {
				return testutil.ToFloat64(r.m.SSEConnectionErrors.WithLabelValues("prod", ReasonSubscribeRefused)) >= 1
			})
			quoted, _ := json.Marshal(text)
			if !strings.Contains(r.logs.String(), `"server_message":`+string(quoted)) {
				t.Errorf("refusal not logged in the server's words %s", quoted)
			}
			if r.set.Connected("prod") || testutil.ToFloat64(r.m.SSEConnectionErrors.WithLabelValues("prod", ReasonSubscribeFailed)) != 0 {
				t.Error("a refusal counted as a subscription or as subscribe_failed")
			}
		})
	}
}

// The stand-in's answers have the recorded shapes.

func startStandIn(t *testing.T, o faultsource.Options) (*faultsource.Server, *mcp.ClientSession) {
	t.Helper()
	src := faultsource.NewWithOptions(o)
	if err := src.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(src.Stop)
	c := mcp.NewClient(&mcp.Implementation{Name: "conformance"}, nil)
	cs, err := c.Connect(context.Background(), &mcp.StreamableClientTransport{Endpoint: src.URL(), MaxRetries: -1}, &mcp.ClientSessionOptions{ProtocolVersion: ProtocolVersion})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cs.Close() })
	return src, cs
}

func normalise(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestConformanceStandInTools(t *testing.T) {
	for file, o := range map[string]faultsource.Options{
		"events-tools.schema.json":               {},
		"multi-context.events-tools.schema.json": {Contexts: []string{"eu-prod", "us-prod"}},
	} {
		_, cs := startStandIn(t, o)
		res, err := cs.ListTools(context.Background(), nil)
		if err != nil {
			t.Fatal(err)
		}
		var events []*mcp.Tool
		for _, tool := range res.Tools {
			if strings.HasPrefix(tool.Name, "events_") {
				events = append(events, tool)
			}
		}
		sort.Slice(events, func(i, j int) bool { return events[i].Name < events[j].Name })
		var recorded any
		if err := json.Unmarshal(readFixture(t, file), &recorded); err != nil {
			t.Fatal(err)
		}
		got := normalise(t, events)
		// go-sdk v1.8 always writes idempotentHint; the recorded server's
		// SDK left a false one out. The value is the same.
		for _, tool := range got.([]any) {
			if a, ok := tool.(map[string]any)["annotations"].(map[string]any); ok && a["idempotentHint"] == false {
				delete(a, "idempotentHint")
			}
		}
		if !reflect.DeepEqual(got, recorded) {
			g, _ := json.MarshalIndent(got, "", "  ")
			t.Errorf("%s: the stand-in lists\n%s", file, g)
		}
	}
}

func TestConformanceStandInInitialize(t *testing.T) {
	_, cs := startStandIn(t, faultsource.Options{})
	var recorded struct {
		Result struct {
			Capabilities any `json:"capabilities"`
			ServerInfo   any `json:"serverInfo"`
		} `json:"result"`
	}
	if err := json.Unmarshal(readFixture(t, "initialize.response.json"), &recorded); err != nil {
		t.Fatal(err)
	}
	init := cs.InitializeResult()
	if got := normalise(t, init.Capabilities); !reflect.DeepEqual(got, recorded.Result.Capabilities) {
		t.Errorf("capabilities %v, recorded %v", got, recorded.Result.Capabilities)
	}
	if got := normalise(t, init.ServerInfo); !reflect.DeepEqual(got, recorded.Result.ServerInfo) {
		t.Errorf("serverInfo %v, recorded %v", got, recorded.Result.ServerInfo)
	}
}

// shape replaces every value by its JSON type, keeping keys.
func shape(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			out[k] = shape(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = shape(e)
		}
		return out
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "bool"
	}
	return "null"
}

// textShape splits a prose answer into its header, the shape of its
// object and its trailer.
func textShape(t *testing.T, text string) (string, any, string) {
	t.Helper()
	i, j := strings.IndexByte(text, '{'), strings.LastIndexByte(text, '}')
	if i < 0 || j < i {
		t.Fatalf("no object in %q", text)
	}
	var obj any
	if err := json.Unmarshal([]byte(text[i:j+1]), &obj); err != nil {
		t.Fatalf("object in %q: %v", text, err)
	}
	return text[:i], shape(obj), text[j+1:]
}

func TestConformanceStandInListSubscriptions(t *testing.T) {
	_, cs := startStandIn(t, faultsource.Options{})
	ctx := context.Background()
	if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "events_subscribe", Arguments: map[string]any{"mode": "faults"}}); err != nil {
		t.Fatal(err)
	}
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "events_list_subscriptions", Arguments: map[string]any{}})
	if err != nil {
		t.Fatal(err)
	}
	gh, gs, gt := textShape(t, resultText(res))
	wh, ws, wt := textShape(t, resultText(resultOf(t, "list-subscriptions.response.json")))
	if gh != wh || gt != wt || !reflect.DeepEqual(gs, ws) {
		t.Errorf("stand-in lists subscriptions as %q %v %q; recorded %q %v %q", gh, gs, gt, wh, ws, wt)
	}
	// And its subscribe answer has the recorded prose and keys.
	sub, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "events_subscribe", Arguments: map[string]any{"mode": "faults"}})
	if err != nil {
		t.Fatal(err)
	}
	gh, gs, gt = textShape(t, resultText(sub))
	wh, ws, wt = textShape(t, resultText(resultOf(t, "subscribe.response.json")))
	if gh != wh || gt != wt || !reflect.DeepEqual(gs, ws) {
		t.Errorf("stand-in subscribes as %q %v %q; recorded %q %v %q", gh, gs, gt, wh, ws, wt)
	}
}

// recordedNotifications reads a recorded stream: fault type (or method)
// → the params of its first notification.
func recordedNotifications(t *testing.T, file string) (map[string]map[string]any, []string) {
	t.Helper()
	out := map[string]map[string]any{}
	var methods []string
	sc := bufio.NewScanner(bytes.NewReader(readFixture(t, file)))
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var msg struct {
			Method string         `json:"method"`
			Params map[string]any `json:"params"`
		}
		if err := json.Unmarshal(sc.Bytes(), &msg); err != nil {
			t.Fatal(err)
		}
		methods = append(methods, msg.Method)
		if data, ok := msg.Params["data"].(map[string]any); ok {
			if typ, _ := data["faultType"].(string); out[typ] == nil {
				out[typ] = msg.Params
			}
		}
	}
	return out, methods
}

// The stand-in's notifications of the five fault types have the recorded
// keys and types: Node faults without namespace, cluster "" single-cluster
// and the context's name multi-cluster, level warning, logger
// kubernetes/faults; losing its API server sends the recorded list_changed
// notifications.
func TestConformanceStandInNotifications(t *testing.T) {
	for file, o := range map[string]faultsource.Options{
		"stream.notifications.jsonl":               {},
		"multi-context.stream.notifications.jsonl": {Contexts: []string{"eu-prod", "us-prod"}},
	} {
		t.Run(file, func(t *testing.T) {
			recorded, methods := recordedNotifications(t, file)
			src := faultsource.NewWithOptions(o)
			if err := src.Start("127.0.0.1:0"); err != nil {
				t.Fatal(err)
			}
			defer src.Stop()
			got := make(chan *mcp.LoggingMessageParams, 16)
			var mu sync.Mutex
			var heard []string
			note := func(m string) {
				mu.Lock()
				defer mu.Unlock()
				heard = append(heard, m)
			}
			c := mcp.NewClient(&mcp.Implementation{Name: "conformance"}, &mcp.ClientOptions{
				LoggingMessageHandler:    func(_ context.Context, r *mcp.LoggingMessageRequest) { got <- r.Params },
				ToolListChangedHandler:   func(context.Context, *mcp.ToolListChangedRequest) { note("notifications/tools/list_changed") },
				PromptListChangedHandler: func(context.Context, *mcp.PromptListChangedRequest) { note("notifications/prompts/list_changed") },
			})
			ctx := context.Background()
			cs, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: src.URL(), MaxRetries: -1}, &mcp.ClientSessionOptions{ProtocolVersion: ProtocolVersion})
			if err != nil {
				t.Fatal(err)
			}
			defer cs.Close()
			if err := cs.SetLoggingLevel(ctx, &mcp.SetLoggingLevelParams{Level: "warning"}); err != nil {
				t.Fatal(err)
			}
			args := map[string]any{"mode": "faults"}
			context := ""
			if len(o.Contexts) > 0 {
				context = "us-prod"
				args["context"] = context
			}
			if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "events_subscribe", Arguments: args}); err != nil {
				t.Fatal(err)
			}
			for typ, params := range recorded {
				sev := params["data"].(map[string]any)["severity"].(string)
				if src.EmitTo(context, faultsource.Fault(context, 1, typ, sev)) != 1 {
					t.Fatalf("%s not sent", typ)
				}
				var p *mcp.LoggingMessageParams
				select {
				case p = <-got:
				case <-time.After(10 * time.Second):
					t.Fatalf("%s not received", typ)
				}
				gotParams := normalise(t, p).(map[string]any)
				if !reflect.DeepEqual(shape(gotParams), shape(params)) {
					t.Errorf("%s: stand-in sends %v; recorded %v", typ, shape(gotParams), shape(params))
				}
				gd, rd := gotParams["data"].(map[string]any), params["data"].(map[string]any)
				if gd["cluster"] != context || gotParams["level"] != params["level"] || gotParams["logger"] != params["logger"] ||
					gd["severity"] != rd["severity"] || gd["faultType"] != rd["faultType"] {
					t.Errorf("%s: stand-in sends %v; recorded %v", typ, gotParams, params)
				}
			}
			var changes []string
			for _, m := range methods {
				if strings.HasSuffix(m, "list_changed") {
					changes = append(changes, m)
				}
			}
			if len(changes) == 0 {
				return
			}
			src.LoseAPIServer()
			waitFor(t, "list_changed notifications", func() bool {
				mu.Lock()
				defer mu.Unlock()
				return len(heard) >= len(changes)
			})
			mu.Lock()
			defer mu.Unlock()
			sort.Strings(heard)
			sort.Strings(changes)
			if !reflect.DeepEqual(heard, changes) {
				t.Errorf("stand-in sent %v on API server loss; recorded %v", heard, changes)
			}
		})
	}
}

// The stand-in refuses like the recorded server, word for word.
func TestConformanceStandInRefusals(t *testing.T) {
	_, cs := startStandIn(t, faultsource.Options{})
	ctx := context.Background()
	for file, args := range map[string]map[string]any{
		"subscribe-bad-mode.response.json":   {"mode": "everything"},
		"subscribe-bad-filter.response.json": {"mode": "faults", "type": "Normal"},
	} {
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "events_subscribe", Arguments: args})
		if err != nil {
			t.Fatal(err)
		}
		want := resultOf(t, file)
		if !res.IsError || resultText(res) != resultText(want) {
			t.Errorf("%v: stand-in answers isError=%v %q; recorded %q", args, res.IsError, resultText(res), resultText(want))
		}
	}
	_, multi := startStandIn(t, faultsource.Options{Contexts: []string{"eu-prod", "us-prod"}})
	_, err := multi.CallTool(ctx, &mcp.CallToolParams{Name: "events_subscribe", Arguments: map[string]any{"mode": "faults", "context": "nope"}})
	var recorded struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(readFixture(t, "multi-context.subscribe-unknown-context.response.json"), &recorded); err != nil {
		t.Fatal(err)
	}
	var refused *RefusedError
	if err := subscribeCallError(err); !errors.As(err, &refused) || refused.Message != recorded.Error.Message {
		t.Errorf("unknown context: stand-in answers %v; recorded JSON-RPC error %q", err, recorded.Error.Message)
	}
}
