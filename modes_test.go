package main

import (
	"bytes"
	"net"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestHelpMode: "kubernetes-mcp-runner help" prints the usage and the
// options by section, exit 0, as --help does.
func TestHelpMode(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"--help"}} {
		var out, errOut bytes.Buffer
		if code := run(args, &out, &errOut); code != exitOK {
			t.Fatalf("%v: exit %d: %s", args, code, errOut.String())
		}
		for _, want := range []string{"Usage:", "kubernetes-mcp-runner demo", "\nAgent:\n", "  --agent-command\n"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("%v: output lacks %q", args, want)
			}
		}
	}
}

// TestModeHelpExits0InDoubleDashStyle: demo --help, incidents --help and
// help MODE print the mode's flags with two dashes and exit 0.
func TestModeHelpExits0InDoubleDashStyle(t *testing.T) {
	singleDash := regexp.MustCompile(`(?m)^\s+-[a-z]`)
	for _, tc := range []struct {
		args       []string
		mode, flag string
	}{
		{[]string{"demo", "--help"}, "demo", "--health-port"},
		{[]string{"demo", "-h"}, "demo", "--rate"},
		{[]string{"help", "demo"}, "demo", "--ui-port"},
		{[]string{"incidents", "--help"}, "incidents", "--state-dir"},
		{[]string{"help", "incidents"}, "incidents", "--url"},
	} {
		var out, errOut bytes.Buffer
		if code := run(tc.args, &out, &errOut); code != exitOK {
			t.Errorf("%v: exit %d: %s", tc.args, code, errOut.String())
			continue
		}
		if !strings.Contains(out.String(), "  "+tc.flag+"\n") || !strings.Contains(out.String(), "Usage: kubernetes-mcp-runner "+tc.mode) {
			t.Errorf("%v: output lacks the usage or %s:\n%s", tc.args, tc.flag, out.String())
		}
		if singleDash.MatchString(out.String()) {
			t.Errorf("%v: a flag in single-dash style:\n%s", tc.args, out.String())
		}
	}
}

// TestModeUnknownFlagIsNamedAsTyped: a mode's unknown flag is echoed as
// typed with the nearest one, exit 2.
func TestModeUnknownFlagIsNamedAsTyped(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"incidents", "--stat-dir", "/x"}, &out, &errOut); code != exitConfig {
		t.Fatalf("exit %d", code)
	}
	if !strings.Contains(errOut.String(), "unknown flag --stat-dir; did you mean --state-dir?") {
		t.Errorf("stderr %q", errOut.String())
	}
}

// TestIncidentsWithoutStateSaysWhereToLook: with no state where it looks,
// incidents says how to read the demo's state or a running runner's.
func TestIncidentsWithoutStateSaysWhereToLook(t *testing.T) {
	var out, errOut bytes.Buffer
	missing := filepath.Join(t.TempDir(), "nothing-here")
	if code := runIncidents([]string{"--state-dir", missing}, func(string) string { return "" }, &out, &errOut); code != exitFailure {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	for _, want := range []string{missing, "--state-dir " + demoStateDir(demoWorkspace()), "--url http://127.0.0.1:8081"} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut.String())
		}
	}
}

// TestDemoPortsReplaceTakenDefaults: a default port another program holds
// is replaced by a free one; a taken port the user gave is an error that
// names its flag.
func TestDemoPortsReplaceTakenDefaults(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	port := taken.Addr().(*net.TCPAddr).Port

	health, ui := port, port
	moved, err := demoPorts(nil, []demoPort{{"health-port", &health}, {"ui-port", &ui}})
	if err != nil {
		t.Fatal(err)
	}
	if health == port || ui == port || health == ui || len(moved) != 2 {
		t.Fatalf("health %d, ui %d from taken %d (moved %q): want two distinct free ports", health, ui, port, moved)
	}
	if !strings.Contains(moved[0], "--health-port") {
		t.Errorf("moved %q does not name the flag", moved[0])
	}
	for _, p := range []int{health, ui} {
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			t.Errorf("port %d given instead is not free: %v", p, err)
			continue
		}
		ln.Close()
	}

	given := port
	if _, err := demoPorts([]string{"ui-port"}, []demoPort{{"ui-port", &given}}); err == nil ||
		!strings.Contains(err.Error(), "--ui-port") || given != port {
		t.Errorf("a taken port given with --ui-port: err %v, port %d", err, given)
	}
}
