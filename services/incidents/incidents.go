// Package incidents serves the finished-incident history over HTTP
// (GET /incidents on the health server), so it can be read while the
// runner holds the state store.
package incidents

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/incident"
)

// History is where the records come from: the state store.
type History interface {
	History(limit int) ([]incident.Record, error)
}

// DefaultLimit is how many records a request without ?limit= gets.
const DefaultLimit = 100

// Handler serves the newest records as a JSON array, at most ?limit=.
func Handler(h History) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit := DefaultLimit
		if v, err := strconv.Atoi(r.URL.Query().Get("limit")); err == nil && v > 0 {
			limit = v
		}
		records, err := h.History(limit)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(records)
	})
}
