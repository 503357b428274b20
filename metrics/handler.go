package metrics

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// DefaultScrapeTimeout bounds one /metrics answer unless configured.
const DefaultScrapeTimeout = time.Second

// Handler serves the registry at /metrics, each answer bounded by timeout
// (zero: DefaultScrapeTimeout). A collector that fails makes the scrape
// answer HTTP 500 and is logged; the process keeps running.
func Handler(g prometheus.Gatherer, timeout time.Duration, logger *slog.Logger) http.Handler {
	if timeout <= 0 {
		timeout = DefaultScrapeTimeout
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{
		ErrorLog:          slog.NewLogLogger(logger.With("component", "metrics-server").Handler(), slog.LevelError),
		ErrorHandling:     promhttp.HTTPErrorOnError,
		Timeout:           timeout,
		EnableOpenMetrics: false,
	}))
	return mux
}
