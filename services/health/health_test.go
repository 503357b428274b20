package health

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

type probeState struct {
	shuttingDown, connected, breakerOpen atomic.Bool
}

func newServer(t *testing.T) (*probeState, *httptest.Server) {
	t.Helper()
	st := &probeState{}
	h := New(st.shuttingDown.Load,
		Check{Name: "sse", Fn: func() error {
			if !st.connected.Load() {
				return errors.New("no active SSE connections")
			}
			return nil
		}},
		Check{Name: "circuit-breaker", Fn: func() error {
			if st.breakerOpen.Load() {
				return errors.New("circuit breaker is open")
			}
			return nil
		}},
	)
	srv := httptest.NewServer(h.Mux())
	t.Cleanup(srv.Close)
	return st, srv
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestProbes(t *testing.T) {
	st, srv := newServer(t)
	type want struct {
		healthz, readyz int
		readyBody       []string
	}
	cases := []struct {
		name                            string
		shutting, connected, brokenOpen bool
		want                            want
	}{
		{"ready", false, true, false, want{200, 200, []string{"ok"}}},
		{"no sessions", false, false, false, want{200, 503, []string{"no active SSE connections"}}},
		{"breaker open", false, true, true, want{200, 503, []string{"circuit breaker is open"}}},
		{"both failing", false, false, true, want{200, 503, []string{"no active SSE connections", "circuit breaker is open"}}},
		{"shutting down", true, true, false, want{503, 503, []string{"shutting down"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st.shuttingDown.Store(tc.shutting)
			st.connected.Store(tc.connected)
			st.breakerOpen.Store(tc.brokenOpen)
			code, body := get(t, srv.URL+"/healthz")
			if code != tc.want.healthz {
				t.Errorf("/healthz %d, want %d", code, tc.want.healthz)
			}
			if tc.shutting && !strings.Contains(body, "Shutting down") {
				t.Errorf("/healthz body %q", body)
			}
			if !tc.shutting && body != "ok\n" {
				t.Errorf("/healthz body %q", body)
			}
			code, body = get(t, srv.URL+"/readyz")
			if code != tc.want.readyz {
				t.Errorf("/readyz %d, want %d", code, tc.want.readyz)
			}
			for _, w := range tc.want.readyBody {
				if !strings.Contains(body, w) {
					t.Errorf("/readyz body %q lacks %q", body, w)
				}
			}
		})
	}
}

func TestReadyzVerbose(t *testing.T) {
	st, srv := newServer(t)
	st.connected.Store(true)
	st.breakerOpen.Store(true)
	code, body := get(t, srv.URL+"/readyz?verbose")
	if code != 503 {
		t.Fatalf("status %d", code)
	}
	for _, w := range []string{"[+]shutdown ok", "[+]sse ok", "[-]circuit-breaker failed: circuit breaker is open", "readyz check failed"} {
		if !strings.Contains(body, w) {
			t.Errorf("verbose body %q lacks %q", body, w)
		}
	}
}

func TestOnlyGet(t *testing.T) {
	_, srv := newServer(t)
	resp, err := http.Post(srv.URL+"/healthz", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST /healthz: %d", resp.StatusCode)
	}
}

func TestReadyzVerboseShowsDetail(t *testing.T) {
	h := New(func() bool { return false },
		Check{Name: "sse", Fn: func() error { return nil }, Detail: func() []string {
			return []string{"cluster b blind since 2026-11-27T00:00:00Z (5m0s)"}
		}})
	srv := httptest.NewServer(h.Mux())
	defer srv.Close()
	code, body := get(t, srv.URL+"/readyz?verbose")
	if code != http.StatusOK || !strings.Contains(body, "[+]sse ok\n    cluster b blind since 2026-11-27T00:00:00Z (5m0s)\n") {
		t.Errorf("verbose readyz %d %q lacks the detail under its check", code, body)
	}
	if _, plain := get(t, srv.URL+"/readyz"); strings.Contains(plain, "blind") {
		t.Errorf("detail shown without ?verbose: %q", plain)
	}
}
