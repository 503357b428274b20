package alertmanager_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/services/alertmanager"
)

// queue is the least a Submitter does: answer one outcome per fault, and
// an error when the faults are not durably stored.
type queue struct{ held map[string]bool }

func (q *queue) Submit(_ context.Context, fs []alertmanager.Fault) ([]alertmanager.Outcome, error) {
	out := make([]alertmanager.Outcome, len(fs))
	for i, f := range fs {
		out[i] = "queued"
		if q.held[f.FaultID] {
			out[i] = "duplicate"
		}
		q.held[f.FaultID] = true
	}
	return out, nil
}

func (q *queue) Resolve(_ context.Context, _, faultID string) (removed, running bool, err error) {
	removed = q.held[faultID]
	delete(q.held, faultID)
	return removed, false, nil
}

// A notification recorded from Alertmanager, posted twice: the repeat is a
// duplicate.
func ExampleNewHandler() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	token := filepath.Join(dir, "token")
	_ = os.WriteFile(token, []byte("s3cret\n"), 0o600)

	h, err := alertmanager.NewHandler(alertmanager.Options{
		Auth:      alertmanager.Auth{BearerTokenFile: token},
		Mapping:   alertmanager.DefaultMapping(),
		Clusters:  []string{"prod"},
		Submitter: &queue{held: map[string]bool{}},
		Logger:    slog.New(slog.DiscardHandler),
	})
	if err != nil {
		panic(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()

	body, _ := os.ReadFile("testdata/firing.json")
	for range 2 {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+alertmanager.Path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer s3cret")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		resp.Body.Close()
		fmt.Print(resp.StatusCode, " ", b.String())
	}
	// Output:
	// 200 {"alerts":1,"outcomes":{"queued":1}}
	// 200 {"alerts":1,"outcomes":{"duplicate":1}}
}
