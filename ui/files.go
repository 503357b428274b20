package ui

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// file serves one of an incident's workspace files. The file's bytes come
// from an agent that read cluster data an attacker may control, so they
// are never served as HTML: JSON or plain text, nosniff (set for every
// page), a CSP that allows nothing, and at most FileLimit bytes.
func (h *handler) file(w http.ResponseWriter, r *http.Request) {
	id, name := r.PathValue("id"), r.PathValue("name")
	if h.o.Files == nil || !ValidID(id) || !slices.Contains(Files, name) {
		http.NotFound(w, r)
		return
	}
	data, truncated, err := h.o.Files.File(r.Context(), id, name, FileLimit)
	if errors.Is(err, ErrNotFound) {
		http.NotFound(w, r)
		return
	}
	if err != nil {
		h.fail(w, r, "read "+name, err)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/plain; charset=utf-8")
	if strings.HasSuffix(name, ".json") {
		hd.Set("Content-Type", "application/json")
	}
	hd.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	hd.Set("Content-Disposition", "inline")
	hd.Set("Content-Length", strconv.Itoa(len(data)))
	if truncated {
		// The log shows its end, the other files their beginning.
		hd.Set("X-Truncated", "true")
	}
	_, _ = w.Write(data)
}

type clustersPage struct {
	Title    string
	Clusters []ClusterStatus
	Blind    int
}

// clusters is the clusters view: which clusters the runner hears from.
func (h *handler) clusters(w http.ResponseWriter, r *http.Request) {
	if h.o.ClusterStatus == nil {
		http.NotFound(w, r)
		return
	}
	cs, err := h.o.ClusterStatus(r.Context())
	if err != nil {
		h.fail(w, r, "cluster status", err)
		return
	}
	page := clustersPage{Title: h.o.Title, Clusters: cs}
	for _, c := range cs {
		if !c.Connected {
			page.Blind++
		}
	}
	h.render(w, r, "clusters.html", page)
}
