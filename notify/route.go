package notify

import (
	"path"
	"slices"
)

// Match selects notifications. Every field that is set must match (AND);
// within a field any listed value may match (OR); an empty field matches
// everything.
type Match struct {
	// Kinds: "incident", "notice".
	Kinds []string `yaml:"kinds"`
	// Statuses: an incident's status (success, failure, timeout,
	// interrupted) or a notice's type (triage_degraded, triage_probing,
	// triage_recovered, cluster_blind, cluster_restored).
	Statuses []string `yaml:"statuses"`
	// Severities: info, warning, critical, unknown.
	Severities []string `yaml:"severities"`
	// Clusters: names or shell patterns (path.Match: prod-*, eu-?).
	// Runner-wide notices have no cluster and never match a route that
	// lists clusters.
	Clusters []string `yaml:"clusters"`
}

// Matches reports whether n is selected.
func (m Match) Matches(n Notification) bool {
	if len(m.Kinds) > 0 && !slices.Contains(m.Kinds, n.Kind) {
		return false
	}
	if len(m.Statuses) > 0 && !slices.Contains(m.Statuses, n.Status()) {
		return false
	}
	if len(m.Severities) > 0 && !slices.Contains(m.Severities, n.Severity()) {
		return false
	}
	if len(m.Clusters) > 0 {
		c := n.Cluster()
		if c == "" {
			return false
		}
		ok := false
		for _, p := range m.Clusters {
			if hit, _ := path.Match(p, c); hit {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// Route sends what it matches to its sinks.
type Route struct {
	Match Match    `yaml:"match"`
	Sinks []string `yaml:"sinks"`
	// Continue goes on to the next routes after a match; without it the
	// first matching route is the last one looked at.
	Continue bool `yaml:"continue"`
}

// Router picks the sinks of a notification.
//
// Routes are tried in order. The first route that matches adds its sinks
// and ends the search, unless it has continue: true, in which case the
// following routes are tried too and every match adds its sinks (each sink
// once, in first-seen order). If no route matches, the default sinks get
// the notification. So: first match by default, all matches where routes
// say continue.
type Router struct {
	Routes  []Route
	Default []string
}

// Sinks are the sink names n goes to, possibly none.
func (r Router) Sinks(n Notification) []string {
	var out []string
	matched := false
	for _, rt := range r.Routes {
		if !rt.Match.Matches(n) {
			continue
		}
		matched = true
		for _, s := range rt.Sinks {
			if !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
		if !rt.Continue {
			break
		}
	}
	if !matched {
		out = append(out, r.Default...)
	}
	return out
}
