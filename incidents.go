package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	neturl "net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/config"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/incident"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/journal"
)

// runIncidents lists finished incidents with their notification delivery
// status: from the state directory when no runner holds it, otherwise from
// the running runner's /api/incidents on its --ui-address.
func runIncidents(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("incidents", flag.ContinueOnError)
	fs.SetOutput(stderr)
	stateDir := fs.String("state-dir", envOr(getenv, "STATE_DIR", "/var/lib/kubernetes-mcp-runner"), "state directory of the runner")
	url := fs.String("url", "", "read from a running runner's incidents page server instead (e.g. http://127.0.0.1:8081)")
	tokenFile := fs.String("token-file", getenv("UI_BEARER_TOKEN_FILE"), "bearer token file for --url when the page requires one")
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	params := map[string]*string{
		"limit":   fs.String("limit", "50", "newest incidents to list (0: all)"),
		"cluster": fs.String("cluster", "", "only incidents of this cluster"),
		"status":  fs.String("status", "", "only incidents that ended so (success, failure, timeout, interrupted, error)"),
		"since":   fs.String("since", "", "only incidents that ended since then: an RFC 3339 time or a duration such as 24h"),
	}
	if err := fs.Parse(args); err != nil {
		return exitConfig
	}
	q, err := incident.ParseQuery(func(k string) string { return *params[k] }, 50, time.Now())
	if err != nil {
		fmt.Fprintf(stderr, "incidents: --%v\n", err)
		return exitConfig
	}
	var rows []incidentRow
	if *url == "" {
		rows, err = readIncidents(*stateDir, q)
		if errors.Is(err, journal.ErrLocked) {
			*url = "http://" + envOr(getenv, "UI_ADDRESS", config.Defaults().UIAddress)
		}
	}
	if *url != "" {
		rows, err = fetchIncidents(*url, *tokenFile, params)
	}
	if err != nil {
		fmt.Fprintf(stderr, "incidents: %v\n", err)
		return exitFailure
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rows)
		return exitOK
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ENDED\tCLUSTER\tINCIDENT\tSTATUS\tATTEMPTS\tDURATION\tDELIVERY\tWORKSPACE")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", r.EndedAt.UTC().Format(time.RFC3339), r.Cluster, r.IncidentID,
			r.Status, r.Attempts, (time.Duration(r.DurationSeconds * float64(time.Second))).Round(time.Millisecond),
			deliveryCell(r.Deliveries), r.Workspace)
	}
	_ = tw.Flush()
	return exitOK
}

// readIncidents reads the history and its deliveries from a stopped
// runner's state directory.
func readIncidents(dir string, q incident.Query) ([]incidentRow, error) {
	fetch := q.Limit
	if q.Filtered() {
		fetch = 0 // filter the whole history, then cap
	}
	records, err := journal.ReadHistory(dir, fetch)
	if err != nil {
		return nil, err
	}
	records = q.Select(records)
	ids := make([]string, len(records))
	for i, r := range records {
		ids[i] = r.IncidentID
	}
	deliveries, err := journal.ReadDeliveries(dir, ids)
	if err != nil {
		return nil, err
	}
	return rowsOf(records, deliveries), nil
}

func fetchIncidents(base, tokenFile string, params map[string]*string) ([]incidentRow, error) {
	q := neturl.Values{}
	for k, v := range params {
		if *v != "" {
			q.Set(k, *v)
		}
	}
	req, err := http.NewRequest(http.MethodGet, strings.TrimRight(base, "/")+apiIncidentsPath+"?"+q.Encode(), nil)
	if err != nil {
		return nil, err
	}
	if tokenFile != "" {
		tok, err := os.ReadFile(tokenFile)
		if err != nil {
			return nil, fmt.Errorf("--token-file: %w", err)
		}
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	}
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s%s: %s", base, apiIncidentsPath, resp.Status)
	}
	var rows []incidentRow
	return rows, json.NewDecoder(resp.Body).Decode(&rows)
}

func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}
