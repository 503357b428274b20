package config

import (
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
)

// section is one topic of --help.
type section struct {
	title string
	flags []string
}

// sections groups the options by topic for --help, the options table of
// docs/configuration.md and the man page, in this order. A new flag goes in
// the section of the boundary it configures; one placed in none is listed
// under OtherSection, and TestEveryOptionHasASection says which.
func sections() []section {
	return []section{
		{"Sources (clusters, MCP sessions, reconcile)", []string{
			"cluster", "clusters-file", "max-subscriptions-per-session",
			"sse-reconnect-initial-delay", "sse-reconnect-max-delay", "sse-keepalive-interval", "sse-connect-timeout",
			"sse-max-event-bytes", "mcp-max-reply-bytes", "allow-plaintext-bearer-token",
			"reconcile-on-first-start", "reconcile-max-calls", "reconcile-max-bytes", "reconcile-concurrency", "reconcile-timeout",
		}},
		{"Alertmanager intake", []string{
			"intake-address", "intake-bearer-token-file", "intake-basic-auth-username", "intake-basic-auth-password-file",
			"intake-max-body-bytes", "alertmanager-mapping-file",
		}},
		{"Queue and state", []string{
			"min-severity", "queue-capacity", "dedup-window", "max-queue-age", "queue-sweep-interval",
			"state-dir", "max-attempts", "history-max-age", "history-max-entries",
		}},
		{"Agent", []string{
			"agent-command", "agent-arg", "agent-env-allow", "agent-timeout", "agent-kill-grace",
			"agent-log-max-bytes", "agent-workspace-max-bytes", "agent-cleanup-command", "agent-cleanup-timeout",
			"agent-report-file", "agent-report-min-bytes", "workspace-root",
			"agents-per-cluster", "max-concurrent-agents", "circuit-breaker-threshold", "circuit-breaker-cooldown",
			"agent-user", "agent-group", "agent-max-processes", "agent-max-open-files", "agent-max-address-space", "agent-env-file",
		}},
		{"Agents as Kubernetes Jobs", []string{
			"agent-runtime", "agent-job-namespace", "agent-job-kubeconfig", "agent-job-template",
			"agent-job-results-address", "agent-job-results-url", "agent-job-entrypoint-image", "agent-job-start-timeout",
		}},
		{"Grouping (one investigation per root cause)", []string{
			"group-wait", "group-max-wait", "group-max-size", "group-cooldown", "recall-max-incidents",
		}},
		{"Budgets", []string{
			"budget-usd-per-day", "max-agent-runs-per-hour", "agent-default-cost-usd", "agent-max-cost-usd",
		}},
		{"Notifications and the incidents page", []string{
			"notify-file", "external-url", "ui-address", "ui-bearer-token-file", "ui-basic-auth-file",
		}},
		{"HTTP (probes, metrics, profiling)", []string{
			"health-address", "health-port", "metrics-address", "metrics-port", "metrics-timeout", "debug-address",
		}},
		{"Logging", []string{"log-level", "log-format"}},
		{"Process (config file, shutdown, sharding)", []string{"config", "shutdown-timeout", "shard", "total-shards"}},
	}
}

// OtherSection holds options no section lists.
const OtherSection = "Other"

// sectionOf returns the section title of a flag and its rank in the order
// of sections (flags of no section rank last).
func sectionOf(all []section, flag string) (title string, rank, within int) {
	for i, s := range all {
		if j := slices.Index(s.flags, flag); j >= 0 {
			return s.title, i, j
		}
	}
	return OtherSection, len(all), 0
}

// WriteHelp prints every option by section with its environment variable,
// default and meaning. The command above it prints its own usage first.
func WriteHelp(w io.Writer) {
	fmt.Fprint(w, "Precedence: flag > environment variable > --config file > default.\n")
	section := ""
	for _, o := range Options() {
		if o.Section != section {
			section = o.Section
			fmt.Fprintf(w, "\n%s:\n", section)
		}
		def := o.Default
		if def == "" {
			def = `""`
		}
		fmt.Fprintf(w, "  --%s\n      %s\n      env %s, default %s\n", o.Flag, o.Usage, o.Env, def)
	}
}

// closest returns the candidate nearest to name by edit distance, or ""
// when none is near enough to be what was meant: a typo, not a different
// word.
func closest(name string, candidates []string) string {
	best, bestDist := "", len(name)/3+2
	for _, c := range candidates {
		if d := editDistance(name, c); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// didYouMean is "; did you mean X?" for the nearest candidate, or "".
func didYouMean(name string, candidates []string, format func(string) string) string {
	if c := closest(name, candidates); c != "" {
		return "; did you mean " + format(c) + "?"
	}
	return ""
}

// checkArgs walks the command line the way package flag will, so that an
// unknown flag is named as it was typed (--foo, not -foo) with the nearest
// known one, and a flag missing its value says what the value is (and
// env, when given, its environment variable). What it does not recognise
// as a flag it leaves to package flag.
func checkArgs(args []string, fs *flag.FlagSet, env func(name string) string) error {
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if arg == "--" || len(arg) < 2 || arg[0] != '-' {
			return nil
		}
		typed, _, hasValue := strings.Cut(arg, "=")
		name := strings.TrimPrefix(strings.TrimPrefix(typed, "-"), "-")
		if name == "" || name[0] == '-' || name == "h" || name == "help" {
			return nil
		}
		f := fs.Lookup(name)
		if f == nil {
			var names []string
			fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
			return fmt.Errorf("unknown flag %s%s (--help lists them all)", typed,
				didYouMean(name, names, func(s string) string { return "--" + s }))
		}
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); hasValue || (ok && b.IsBoolFlag()) {
			continue
		}
		if i+1 == len(args) {
			what := typed
			if env != nil {
				what += " (" + env(name) + ")"
			}
			return fmt.Errorf("%s needs a value: %s", what, f.Usage)
		}
		i++
	}
	return nil
}

// ParseCommand parses the flags of one of the binary's other modes (demo,
// incidents) with the daemon's conventions: an unknown flag is named as
// typed with the nearest known one, and -h/--help returns ErrHelp for the
// mode to print WriteCommandHelp and exit 0.
func ParseCommand(fs *flag.FlagSet, args []string) error {
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	if err := checkArgs(args, fs, nil); err != nil {
		return err
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// WriteCommandHelp prints a mode's flags in the daemon's --help style:
// double dashes, the meaning and the default.
func WriteCommandHelp(w io.Writer, fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		def := f.DefValue
		if def == "" {
			def = `""`
		}
		fmt.Fprintf(w, "  --%s\n      %s\n      default %s\n", f.Name, f.Usage, def)
	})
}
