package config

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// base is the minimum valid command line.
var base = []string{"--cluster", "prod=http://127.0.0.1:8080/mcp", "--agent-command", "/bin/true"}

func env(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaults(t *testing.T) {
	c, err := Parse(base, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"AgentTimeout": 300 * time.Second, "MaxQueueAge": 600 * time.Second,
		"QueueSweepInterval": 60 * time.Second, "SSEReconnectInitialDelay": time.Second,
		"SSEReconnectMaxDelay": 60 * time.Second, "ShutdownTimeout": 30 * time.Second,
		"HealthPort": 8080, "MetricsPort": 9090,
	}
	got := map[string]any{
		"AgentTimeout": c.AgentTimeout, "MaxQueueAge": c.MaxQueueAge,
		"QueueSweepInterval": c.QueueSweepInterval, "SSEReconnectInitialDelay": c.SSEReconnectInitialDelay,
		"SSEReconnectMaxDelay": c.SSEReconnectMaxDelay, "ShutdownTimeout": c.ShutdownTimeout,
		"HealthPort": c.HealthPort, "MetricsPort": c.MetricsPort,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
}

func TestEnvName(t *testing.T) {
	want := map[string]string{
		"agent-timeout":               "AGENT_TIMEOUT_SECONDS",
		"max-queue-age":               "MAX_QUEUE_AGE_SECONDS",
		"queue-sweep-interval":        "QUEUE_SWEEP_INTERVAL_SECONDS",
		"sse-reconnect-initial-delay": "SSE_RECONNECT_INITIAL_DELAY_SECONDS",
		"sse-reconnect-max-delay":     "SSE_RECONNECT_MAX_DELAY_SECONDS",
		"shutdown-timeout":            "SHUTDOWN_TIMEOUT_SECONDS",
		"health-port":                 "HEALTH_PORT",
		"metrics-port":                "METRICS_PORT",
		"agent-command":               "AGENT_COMMAND",
	}
	got := map[string]string{}
	for _, o := range Options() {
		got[o.Flag] = o.Env
	}
	for flag, e := range want {
		if got[flag] != e {
			t.Errorf("--%s maps to %q, want %q", flag, got[flag], e)
		}
	}
}

// TestPrecedence checks flag > env > file > default for every seed option.
func TestPrecedence(t *testing.T) {
	type layer struct{ flag, env, file, def string }
	cases := []struct {
		flag, env string
		get       func(Config) string
		v         layer
	}{
		{"agent-timeout", "AGENT_TIMEOUT_SECONDS", func(c Config) string { return c.AgentTimeout.String() }, layer{"11", "12", "13", "5m0s"}},
		{"max-queue-age", "MAX_QUEUE_AGE_SECONDS", func(c Config) string { return c.MaxQueueAge.String() }, layer{"21", "22", "23", "10m0s"}},
		{"queue-sweep-interval", "QUEUE_SWEEP_INTERVAL_SECONDS", func(c Config) string { return c.QueueSweepInterval.String() }, layer{"31", "32", "33", "1m0s"}},
		{"sse-reconnect-initial-delay", "SSE_RECONNECT_INITIAL_DELAY_SECONDS", func(c Config) string { return c.SSEReconnectInitialDelay.String() }, layer{"2", "3", "4", "1s"}},
		{"sse-reconnect-max-delay", "SSE_RECONNECT_MAX_DELAY_SECONDS", func(c Config) string { return c.SSEReconnectMaxDelay.String() }, layer{"41", "42", "43", "1m0s"}},
		{"shutdown-timeout", "SHUTDOWN_TIMEOUT_SECONDS", func(c Config) string { return c.ShutdownTimeout.String() }, layer{"51", "52", "53", "30s"}},
		{"health-port", "HEALTH_PORT", func(c Config) string { return itoa(c.HealthPort) }, layer{"1001", "1002", "1003", "8080"}},
		{"metrics-port", "METRICS_PORT", func(c Config) string { return itoa(c.MetricsPort) }, layer{"2001", "2002", "2003", "9090"}},
	}
	secs := func(s string) string {
		if strings.Contains(s, "s") || len(s) == 4 {
			return s
		}
		d, _ := time.ParseDuration(s + "s")
		return d.String()
	}
	for _, tc := range cases {
		t.Run(tc.flag, func(t *testing.T) {
			file := writeFile(t, "runner.conf", tc.flag+" "+tc.v.file+"\n")
			e := env(map[string]string{tc.env: tc.v.env})
			noEnv := env(nil)
			withFlag := append([]string{"--" + tc.flag, tc.v.flag, "--config", file}, base...)
			withFile := append([]string{"--config", file}, base...)

			check := func(name string, args []string, getenv func(string) string, want string) {
				t.Helper()
				c, err := Parse(args, getenv)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if got := tc.get(c); got != want {
					t.Errorf("%s: got %s, want %s", name, got, want)
				}
			}
			check("flag beats env and file", withFlag, e, secs(tc.v.flag))
			check("env beats file", withFile, e, secs(tc.v.env))
			check("file beats default", withFile, noEnv, secs(tc.v.file))
			check("default", base, noEnv, tc.v.def)
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestValidationErrors(t *testing.T) {
	clusters := writeFile(t, "clusters.yaml", "clusters:\n  - name: a\n    endpoint: http://a/mcp\n    endpiont: typo\n")
	unknownKey := writeFile(t, "bad.conf", "agent-timeot 30\n")
	cases := []struct {
		name string
		args []string
		env  map[string]string
		want []string // every fragment must appear in the error
	}{
		{"non-integer flag", []string{"--agent-timeout", "abc"}, nil, []string{"--agent-timeout", "AGENT_TIMEOUT_SECONDS", "whole number of seconds nor a duration"}},
		{"fractional", []string{"--max-queue-age", "1.5"}, nil, []string{"--max-queue-age", "MAX_QUEUE_AGE_SECONDS"}},
		{"zero", []string{"--queue-sweep-interval", "0"}, nil, []string{"--queue-sweep-interval", "QUEUE_SWEEP_INTERVAL_SECONDS", "positive"}},
		{"negative", []string{"--shutdown-timeout", "-5"}, nil, []string{"--shutdown-timeout", "SHUTDOWN_TIMEOUT_SECONDS", "positive"}},
		{"non-duration env", nil, map[string]string{"AGENT_TIMEOUT_SECONDS": "5 minutes"}, []string{"AGENT_TIMEOUT_SECONDS", "--agent-timeout"}},
		{"negative duration", []string{"--agent-timeout", "-5m"}, nil, []string{"--agent-timeout", "positive"}},
		{"duration over a year", []string{"--history-max-age", "9000h"}, nil, []string{"--history-max-age", "more than a year"}},
		{"zero env", nil, map[string]string{"SSE_RECONNECT_MAX_DELAY_SECONDS": "0"}, []string{"SSE_RECONNECT_MAX_DELAY_SECONDS", "--sse-reconnect-max-delay"}},
		{"port out of range", []string{"--health-port", "70000"}, nil, []string{"--health-port", "HEALTH_PORT", "out of range"}},
		{"port zero env", nil, map[string]string{"METRICS_PORT": "0"}, []string{"METRICS_PORT", "--metrics-port"}},
		{"ports equal", []string{"--health-port", "9090"}, nil, []string{"--health-port", "HEALTH_PORT", "--metrics-port"}},
		{"initial > max", []string{"--sse-reconnect-initial-delay", "90"}, nil, []string{"--sse-reconnect-initial-delay", "SSE_RECONNECT_INITIAL_DELAY_SECONDS", "--sse-reconnect-max-delay"}},
		{"duplicate cluster", []string{"--cluster", "prod=http://other/mcp"}, nil, []string{`"prod"`, "twice"}},
		{"invalid cluster name", []string{"--cluster", "Prod_1=http://x/mcp"}, nil, []string{"invalid cluster name", "Prod_1"}},
		{"path in cluster name", []string{"--cluster", "../etc=http://x/mcp"}, nil, []string{"invalid cluster name"}},
		{"bad endpoint", []string{"--cluster", "x=ftp://x"}, nil, []string{"not an http(s) URL"}},
		{"cluster not NAME=URL", []string{"--cluster", "justaname"}, nil, []string{"--cluster", "NAME=URL"}},
		{"unknown key in clusters file", []string{"--clusters-file", clusters}, nil, []string{"CLUSTERS_FILE", "endpiont"}},
		{"unknown key in config file", []string{"--config", unknownKey}, nil, []string{"agent-timeot", "unknown option", "line 1"}},
		{"missing config file", []string{"--config", "/nonexistent/runner.conf"}, nil, []string{"/nonexistent/runner.conf"}},
		{"unknown flag", []string{"--agent-timout", "5"}, nil, []string{"agent-timout"}},
		{"bad log level", []string{"--log-level", "loud"}, nil, []string{"--log-level", "LOG_LEVEL"}},
		{"bad min severity", []string{"--min-severity", "major"}, nil, []string{"--min-severity", "MIN_SEVERITY"}},
		{"grace not under shutdown timeout", []string{"--agent-kill-grace", "30"}, nil, []string{"--agent-kill-grace", "--shutdown-timeout"}},
		{"stray argument", []string{"extra"}, nil, []string{`unexpected argument "extra"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(append(append([]string{}, base...), tc.args...), env(tc.env))
			if err == nil {
				t.Fatal("Parse accepted invalid configuration")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q is not one line", err)
			}
		})
	}
}

func TestDurationsAcceptSecondsOrUnits(t *testing.T) {
	cases := []struct {
		args []string
		env  map[string]string
		want time.Duration
	}{
		{[]string{"--agent-timeout", "90"}, nil, 90 * time.Second},
		{[]string{"--agent-timeout", "90s"}, nil, 90 * time.Second},
		{[]string{"--agent-timeout", "5m"}, nil, 5 * time.Minute},
		{[]string{"--agent-timeout", "1h30m"}, nil, 90 * time.Minute},
		{nil, map[string]string{"AGENT_TIMEOUT_SECONDS": "2m"}, 2 * time.Minute},
		{nil, map[string]string{"AGENT_TIMEOUT_SECONDS": "120"}, 2 * time.Minute},
	}
	for _, tc := range cases {
		cfg, err := Parse(append(append([]string{}, base...), tc.args...), env(tc.env))
		if err != nil {
			t.Fatalf("%v %v: %v", tc.args, tc.env, err)
		}
		if cfg.AgentTimeout != tc.want {
			t.Errorf("%v %v: agent timeout %v, want %v", tc.args, tc.env, cfg.AgentTimeout, tc.want)
		}
	}
}

func TestMissingRequired(t *testing.T) {
	if _, err := Parse([]string{"--agent-command", "/bin/true"}, env(nil)); err == nil || !strings.Contains(err.Error(), "no clusters configured") {
		t.Fatalf("err = %v, want no clusters configured", err)
	}
	if _, err := Parse([]string{"--cluster", "a=http://a/mcp"}, env(nil)); err == nil || !strings.Contains(err.Error(), "--agent-command") {
		t.Fatalf("err = %v, want missing --agent-command", err)
	}
}

func TestClustersFromAllSources(t *testing.T) {
	file := writeFile(t, "clusters.yaml", `clusters:
  - name: eu-1
    endpoint: https://eu-1.example:8443/mcp
    transport: sse
    triage: false
  - name: us-1
    endpoint: http://us-1:8080/mcp
`)
	c, err := Parse(append([]string{"--clusters-file", file}, base...), env(map[string]string{"CLUSTER": "ignored=http://x/mcp"}))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.ClusterNames(), ","); got != "prod,eu-1,us-1" {
		t.Fatalf("clusters %s", got)
	}
	if c.Clusters[1].Transport != TransportSSE || c.Clusters[1].Triage {
		t.Errorf("eu-1 = %+v, want sse without triage", c.Clusters[1])
	}
	if c.Clusters[2].Transport != TransportStreamable || !c.Clusters[2].Triage {
		t.Errorf("us-1 = %+v, want defaults", c.Clusters[2])
	}

	// From the environment, comma-separated, when no flag is given.
	c, err = Parse([]string{"--agent-command", "/bin/true"}, env(map[string]string{"CLUSTER": "a=http://a/mcp, b=http://b/mcp"}))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.ClusterNames(), ","); got != "a,b" {
		t.Fatalf("clusters from env %s", got)
	}
}

func TestRepeatableFlagReplacesDefault(t *testing.T) {
	c, err := Parse(append([]string{"--agent-env-allow", "PATH", "--agent-env-allow", "ANTHROPIC_API_KEY"}, base...), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.AgentEnvAllow, ","); got != "PATH,ANTHROPIC_API_KEY" {
		t.Fatalf("allow-list %s", got)
	}
}

func TestHelpListsEveryOption(t *testing.T) {
	var b strings.Builder
	WriteHelp(&b)
	for _, o := range Options() {
		if !strings.Contains(b.String(), "--"+o.Flag+"\n") || !strings.Contains(b.String(), "env "+o.Env+",") {
			t.Errorf("help lacks --%s or %s", o.Flag, o.Env)
		}
	}
}
