package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"text/tabwriter"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/incident"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/journal"
)

// runIncidents lists finished incidents: from the state directory when no
// runner holds it, otherwise from the running runner's /incidents.
func runIncidents(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("incidents", flag.ContinueOnError)
	fs.SetOutput(stderr)
	stateDir := fs.String("state-dir", envOr(getenv, "STATE_DIR", "/var/lib/kubernetes-mcp-runner"), "state directory of the runner")
	url := fs.String("url", "", "read from a running runner's health server instead (e.g. http://127.0.0.1:8080)")
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	limit := fs.Int("limit", 50, "newest incidents to list (0: all)")
	if err := fs.Parse(args); err != nil {
		return exitConfig
	}
	var records []incident.Record
	var err error
	if *url == "" {
		records, err = journal.ReadHistory(*stateDir, *limit)
		if errors.Is(err, journal.ErrLocked) {
			*url = "http://127.0.0.1:" + envOr(getenv, "HEALTH_PORT", "8080")
		}
	}
	if *url != "" {
		records, err = fetchIncidents(*url, *limit)
	}
	if err != nil {
		fmt.Fprintf(stderr, "incidents: %v\n", err)
		return exitFailure
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(records)
		return exitOK
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ENDED\tCLUSTER\tINCIDENT\tSTATUS\tATTEMPTS\tDURATION\tWORKSPACE")
	for _, r := range records {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", r.EndedAt.UTC().Format(time.RFC3339), r.Cluster, r.IncidentID,
			r.Status, r.Attempts, (time.Duration(r.DurationSeconds * float64(time.Second))).Round(time.Millisecond), r.Workspace)
	}
	_ = tw.Flush()
	return exitOK
}

func fetchIncidents(base string, limit int) ([]incident.Record, error) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(fmt.Sprintf("%s/incidents?limit=%d", base, limit))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s/incidents: %s", base, resp.Status)
	}
	var records []incident.Record
	return records, json.NewDecoder(resp.Body).Decode(&records)
}

func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}
