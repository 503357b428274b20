package httpserver

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
)

func TestBindFailsWhenThePortIsTaken(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	s := New("metrics-server", taken.Addr().String(), http.NotFoundHandler(), slog.New(slog.DiscardHandler))
	err = s.Bind()
	if err == nil || !strings.Contains(err.Error(), "metrics-server") || !strings.Contains(err.Error(), taken.Addr().String()) {
		t.Fatalf("Bind on a taken port: %v, want an error naming the server and address", err)
	}
}

func TestBindFailsOnAnUnresolvableAddress(t *testing.T) {
	s := New("health-server", "no-such-host.invalid:8080", http.NotFoundHandler(), slog.New(slog.DiscardHandler))
	if err := s.Bind(); err == nil {
		t.Fatal("Bind on an unresolvable host succeeded")
	}
}

func TestServeUsesTheBoundListener(t *testing.T) {
	s := New("health-server", "127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}), slog.New(slog.DiscardHandler))
	if err := s.Bind(); err != nil {
		t.Fatal(err)
	}
	addr := s.Addr()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	<-s.Listening()
	if s.Addr() != addr {
		t.Fatalf("served on %s, bound %s", s.Addr(), addr)
	}
	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "ok" {
		t.Fatalf("body %q", body)
	}
	cancel()
	<-done
}
