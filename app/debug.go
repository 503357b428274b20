package app

import (
	"log/slog"
	"net/http"
	"net/http/pprof"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/config"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/httpserver"
)

// debugServer is the opt-in profiling server: Go's /debug/pprof handlers on
// --debug-address, a listener of its own so that profiles are never served
// on the metrics or health ports, which are usually reachable from the
// cluster. It is nil unless --debug-address is set. The handlers are
// mounted on a mux of our own (importing net/http/pprof also registers them
// on http.DefaultServeMux, which the runner never serves).
func debugServer(cfg config.Config, logger *slog.Logger) *httpserver.Server {
	if cfg.DebugAddress == "" {
		return nil
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("POST /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	return httpserver.New("debug-server", cfg.DebugAddress, mux, logger)
}
