// Package httpserver runs an http.Handler as a suture service: it listens,
// serves until its context ends, then shuts down gracefully. A failure to
// listen is returned so the supervisor retries with backoff.
package httpserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// Server is one HTTP listener.
type Server struct {
	name    string
	addr    string
	handler http.Handler
	logger  *slog.Logger

	listenOnce sync.Once
	listening  chan struct{}
	mu         sync.Mutex
	boundAddr  string
	// bound is the listener Bind opened, used by the first Serve.
	bound net.Listener
}

// New returns a server for addr ("host:port"; port 0 picks a free one).
func New(name, addr string, handler http.Handler, logger *slog.Logger) *Server {
	return &Server{
		name:      name,
		addr:      addr,
		handler:   handler,
		logger:    logger.With("component", name),
		listening: make(chan struct{}),
	}
}

// String names the service for the supervisor's logs.
func (s *Server) String() string { return s.name }

// Listening is closed once the server first accepts connections.
func (s *Server) Listening() <-chan struct{} { return s.listening }

// Addr is the bound address, known once Listening is closed.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.boundAddr
}

// Bind opens the listener now, so that a port in use or an address that
// does not resolve stops the runner at start instead of leaving it running
// without the server. The first Serve uses this listener; a restarted
// Serve listens again.
func (s *Server) Bind() error {
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return fmt.Errorf("%s: listen on %s: %w", s.name, s.addr, err)
	}
	s.mu.Lock()
	s.bound = ln
	s.boundAddr = ln.Addr().String()
	s.mu.Unlock()
	return nil
}

// listener takes the listener Bind opened, or opens a new one.
func (s *Server) listener() (net.Listener, error) {
	s.mu.Lock()
	ln := s.bound
	s.bound = nil
	s.mu.Unlock()
	if ln != nil {
		return ln, nil
	}
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return nil, fmt.Errorf("%s: listen on %s: %w", s.name, s.addr, err)
	}
	return ln, nil
}

// shutdownTimeout bounds the graceful stop of in-flight requests.
const shutdownTimeout = 5 * time.Second

// Serve implements suture.Service.
func (s *Server) Serve(ctx context.Context) error {
	ln, err := s.listener()
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.boundAddr = ln.Addr().String()
	s.mu.Unlock()
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 2 * time.Second,
		ReadTimeout:       5 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
	}
	s.logger.Info("HTTP server listening", "address", ln.Addr().String())
	s.listenOnce.Do(func() { close(s.listening) })

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("%s: serve: %w", s.name, err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		s.logger.Warn("HTTP server shutdown incomplete", "error", err)
		_ = srv.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("%s: serve: %w", s.name, err)
	}
	s.logger.Info("HTTP server stopped")
	return ctx.Err()
}
