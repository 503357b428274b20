package metrics

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// ScrapeTimeout bounds one /metrics answer.
const ScrapeTimeout = time.Second

// Handler serves the registry at /metrics. A collector that fails makes the
// scrape answer HTTP 500 and is logged; the process keeps running.
func Handler(g prometheus.Gatherer, logger *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{
		ErrorLog:          slog.NewLogLogger(logger.With("component", "metrics-server").Handler(), slog.LevelError),
		ErrorHandling:     promhttp.HTTPErrorOnError,
		Timeout:           ScrapeTimeout,
		EnableOpenMetrics: false,
	}))
	return mux
}
