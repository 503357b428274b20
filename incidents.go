package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"text/tabwriter"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/config"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/history"
)

// runIncidents lists finished incidents with their notification delivery
// status: from the state directory when no runner holds it, otherwise from
// the running runner's /api/incidents on its --ui-address.
func runIncidents(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("incidents", flag.ContinueOnError)
	stateDir := flags.String("state-dir", envOr(getenv, "STATE_DIR", "/var/lib/kubernetes-mcp-runner"), "state directory of the runner")
	url := flags.String("url", "", "read from a running runner's incidents page server instead (e.g. http://127.0.0.1:8081)")
	tokenFile := flags.String("token-file", getenv("UI_BEARER_TOKEN_FILE"), "bearer token file for --url when the page requires one")
	asJSON := flags.Bool("json", false, "print JSON instead of a table")
	params := map[string]*string{
		"limit":   flags.String("limit", "50", "newest incidents to list (0: all)"),
		"cluster": flags.String("cluster", "", "only incidents of this cluster"),
		"status":  flags.String("status", "", "only incidents that ended so (success, failure, timeout, interrupted, error), or running now"),
		"since":   flags.String("since", "", "only incidents that ended since then: an RFC 3339 time or a duration such as 24h"),
	}
	if err := config.ParseCommand(flags, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, "Usage: kubernetes-mcp-runner incidents [options]\n\nLists finished incidents with their notification delivery status, from the\nstate directory, or from a running runner's incidents page when it holds\nthe directory (or with --url).\n\nOptions:\n")
			config.WriteCommandHelp(stdout, flags)
			return exitOK
		}
		fmt.Fprintf(stderr, "incidents: %v\n", err)
		return exitConfig
	}
	q, err := history.ParseQuery(func(k string) string { return *params[k] }, 50, time.Now())
	if err != nil {
		fmt.Fprintf(stderr, "incidents: --%v\n", err)
		return exitConfig
	}
	var rows []history.Row
	if *url == "" {
		rows, err = history.ReadDir(*stateDir, q)
		if errors.Is(err, history.ErrLocked) {
			*url = "http://" + envOr(getenv, "UI_ADDRESS", config.Defaults().UIAddress)
		}
	}
	if *url != "" {
		rows, err = history.Fetch(*url, *tokenFile, params)
	}
	if errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintf(stderr, "incidents: no runner state in %s (%v)\n"+
			"  the demo's: kubernetes-mcp-runner incidents --state-dir %s\n"+
			"  a running runner's: kubernetes-mcp-runner incidents --url http://%s (its --ui-address)\n",
			*stateDir, err, demoStateDir(demoWorkspace()), config.Defaults().UIAddress)
		return exitFailure
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
	fmt.Fprintln(tw, "ENDED\tCLUSTER\tINCIDENT\tSTATUS\tATTEMPTS\tDURATION\tCOST\tTOKENS\tDELIVERY\tWORKSPACE")
	for _, r := range rows {
		cost, tokens := history.SpendCells(r.Spend)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", r.EndedAt.UTC().Format(time.RFC3339), r.Cluster, r.IncidentID,
			r.Status, r.Attempts, (time.Duration(r.DurationSeconds * float64(time.Second))).Round(time.Millisecond),
			dash(cost), dash(tokens), history.DeliveryCell(r.Deliveries), r.Workspace)
	}
	_ = tw.Flush()
	return exitOK
}

// dash stands in for an empty cell: a run whose cost is not known (a
// result from before budgets) reads as such, not as a missing column.
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}
