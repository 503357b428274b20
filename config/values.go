package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// secondsValue is a flag.Value holding a duration. It takes a whole number
// of seconds, the unit the seed's *_SECONDS variables use, or a Go duration
// with a unit ("90s", "5m", "1h30m", "500ms"), so that "30" means the same
// thing on the command line, in the environment and in the config file.
type secondsValue struct {
	d *time.Duration
	// zero allows 0, for options where it means "off".
	zero bool
}

// maxDuration bounds every duration option: anything longer is a typo.
const maxDuration = 365 * 24 * time.Hour

func (v secondsValue) String() string {
	if v.d == nil {
		return "0"
	}
	if *v.d%time.Second == 0 {
		return strconv.FormatInt(int64(*v.d/time.Second), 10)
	}
	return v.d.String()
}

func (v secondsValue) Set(s string) error {
	s = strings.TrimSpace(s)
	var d time.Duration
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n > int64(maxDuration/time.Second) {
			return fmt.Errorf("%q seconds is more than a year", s)
		}
		d = time.Duration(n) * time.Second
	} else if parsed, err := time.ParseDuration(s); err == nil {
		d = parsed
	} else {
		return fmt.Errorf("%q is neither a whole number of seconds nor a duration such as 90s or 5m", s)
	}
	if d < 0 || (d == 0 && !v.zero) {
		return fmt.Errorf("%q must be a positive duration", s)
	}
	if d > maxDuration {
		return fmt.Errorf("%q is more than a year", s)
	}
	*v.d = d
	return nil
}

// portValue is a TCP port number, 1..65535.
type portValue struct{ p *int }

func (v portValue) String() string {
	if v.p == nil {
		return "0"
	}
	return strconv.Itoa(*v.p)
}

func (v portValue) Set(s string) error {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("%q is not a port number", s)
	}
	if n < 1 || n > 65535 {
		return fmt.Errorf("port %d is out of range 1-65535", n)
	}
	*v.p = n
	return nil
}

// positiveIntValue is a count that must be at least one.
type positiveIntValue struct{ n *int }

func (v positiveIntValue) String() string {
	if v.n == nil {
		return "0"
	}
	return strconv.Itoa(*v.n)
}

func (v positiveIntValue) Set(s string) error {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("%q is not a whole number", s)
	}
	if n < 1 {
		return fmt.Errorf("%q must be at least 1", s)
	}
	*v.n = n
	return nil
}

// listValue is a repeatable string flag. From the environment it takes a
// comma-separated list.
type listValue struct {
	list *[]string
	// set records whether anything was set, so that the first explicit value
	// replaces the default instead of appending to it.
	set bool
}

func (v *listValue) String() string {
	if v.list == nil {
		return ""
	}
	return strings.Join(*v.list, ",")
}

func (v *listValue) Set(s string) error {
	if !v.set {
		*v.list = nil
		v.set = true
	}
	*v.list = append(*v.list, s)
	return nil
}

// clusterFlag collects --cluster NAME=URL pairs. NAME=URL#CONTEXT names a
// kubeconfig context of a multi-cluster server: a URL fragment is never
// sent to the server, so '#' cannot be part of a real endpoint.
type clusterFlag struct{ clusters *[]Cluster }

func (v clusterFlag) String() string {
	if v.clusters == nil {
		return ""
	}
	parts := make([]string, 0, len(*v.clusters))
	for _, c := range *v.clusters {
		p := c.Name + "=" + RedactURL(c.Endpoint)
		if c.Context != "" {
			p += "#" + c.Context
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, ",")
}

func (v clusterFlag) Set(s string) error {
	name, url, ok := strings.Cut(s, "=")
	if !ok || name == "" || url == "" {
		return fmt.Errorf("%q is not NAME=URL or NAME=URL#CONTEXT", s)
	}
	url, context, hasContext := strings.Cut(url, "#")
	if hasContext && strings.TrimSpace(context) == "" {
		return fmt.Errorf("%q names an empty context after '#'", s)
	}
	*v.clusters = append(*v.clusters, Cluster{
		Name:      strings.TrimSpace(name),
		Endpoint:  strings.TrimSpace(url),
		Context:   strings.TrimSpace(context),
		Transport: TransportStreamable,
		Triage:    true,
	})
	return nil
}

// boolValue is an on/off switch: --flag alone, or true/false (1/0) from
// the environment and the config file.
type boolValue struct{ b *bool }

func (v boolValue) String() string {
	if v.b == nil {
		return "false"
	}
	return strconv.FormatBool(*v.b)
}

func (v boolValue) Set(s string) error {
	b, err := strconv.ParseBool(strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("%q is not true or false", s)
	}
	*v.b = b
	return nil
}

// IsBoolFlag lets the flag be given without a value.
func (v boolValue) IsBoolFlag() bool { return true }
