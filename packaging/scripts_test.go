package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// scriptRun runs one maintainer script the way dpkg or rpm would, with
// systemctl, getent, groupadd and useradd replaced by stubs on PATH that
// record their arguments. systemdUp says whether /run/systemd/system
// exists (systemd is the init); the script's absolute paths are pointed
// into a scratch root so purge can be observed.
type scriptRun struct {
	calls     []string
	stateGone bool
}

func runScript(t *testing.T, script string, systemdUp, systemctlFails bool, args ...string) scriptRun {
	t.Helper()
	root := t.TempDir()
	stubs := filepath.Join(root, "stubs")
	log := filepath.Join(root, "calls")
	for _, d := range []string{"stubs", "run/systemd", "var/lib/kubernetes-mcp-runner/incidents", "var/log/kubernetes-mcp-runner"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if systemdUp {
		if err := os.Mkdir(filepath.Join(root, "run/systemd/system"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	rc := "0"
	if systemctlFails {
		rc = "1"
	}
	stub := func(name, body string) {
		if err := os.WriteFile(filepath.Join(stubs, name), []byte("#!/bin/sh\necho \""+name+" $*\" >> "+log+"\n"+body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	stub("systemctl", "exit "+rc+"\n")
	stub("getent", "exit 2\n") // no such user or group yet
	stub("groupadd", "exit 0\n")
	stub("useradd", "exit 0\n")

	data, err := os.ReadFile(filepath.Join("scripts", script))
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	for _, p := range []string{"-d /run/systemd/system", "state_dir=/var/lib/kubernetes-mcp-runner", "logs_dir=/var/log/kubernetes-mcp-runner"} {
		i := strings.Index(p, "/")
		text = strings.ReplaceAll(text, p, p[:i]+filepath.Join(root, p[i:]))
	}
	copyPath := filepath.Join(root, script)
	if err := os.WriteFile(copyPath, []byte(text), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/bin/sh", append([]string{"-e", copyPath}, args...)...)
	cmd.Env = []string{"PATH=" + stubs + ":/usr/bin:/bin"}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", script, args, err, out)
	}
	var r scriptRun
	if data, err := os.ReadFile(log); err == nil {
		r.calls = strings.Split(strings.TrimSpace(string(data)), "\n")
	}
	if _, err := os.Stat(filepath.Join(root, "var/lib/kubernetes-mcp-runner")); os.IsNotExist(err) {
		r.stateGone = true
	}
	return r
}

const (
	reload  = "systemctl daemon-reload"
	restart = "systemctl try-restart kubernetes-mcp-runner.service"
	stop    = "systemctl stop kubernetes-mcp-runner.service"
	disable = "systemctl disable kubernetes-mcp-runner.service"
)

// TestMaintainerScripts runs every script with every first argument dpkg
// (install, upgrade, configure, remove, purge, abort-*) and rpm (1 install,
// 2 upgrade, 0 erase) pass, and asserts the systemctl calls: only a removal
// stops and disables, an upgrade restarts a running service exactly once,
// and systemd re-reads the units whenever unit files may have changed.
func TestMaintainerScripts(t *testing.T) {
	user := []string{"getent group kubernetes-mcp-runner", "groupadd --system kubernetes-mcp-runner",
		"getent passwd kubernetes-mcp-runner",
		"useradd --system --gid kubernetes-mcp-runner --home-dir /var/lib/kubernetes-mcp-runner --no-create-home --shell /usr/sbin/nologin kubernetes-mcp-runner"}
	cases := []struct {
		script string
		args   []string
		want   []string
		purged bool
	}{
		// deb preinst and rpm %pre: create the user, never touch the service.
		{"preinstall.sh", []string{"install"}, user, false},
		{"preinstall.sh", []string{"install", "0.1.0"}, user, false},
		{"preinstall.sh", []string{"upgrade", "0.1.0"}, user, false},
		{"preinstall.sh", []string{"abort-upgrade", "0.2.0"}, user, false},
		{"preinstall.sh", []string{"1"}, user, false},
		{"preinstall.sh", []string{"2"}, user, false},

		// deb postinst and rpm %post.
		{"postinstall.sh", []string{"configure", ""}, []string{reload}, false},
		{"postinstall.sh", []string{"configure"}, []string{reload}, false},
		{"postinstall.sh", []string{"configure", "0.1.0"}, []string{reload, restart}, false},
		{"postinstall.sh", []string{"abort-upgrade", "0.2.0"}, []string{reload}, false},
		{"postinstall.sh", []string{"abort-remove"}, []string{reload}, false},
		{"postinstall.sh", []string{"abort-deconfigure"}, []string{reload}, false},
		{"postinstall.sh", []string{"1"}, []string{reload}, false},
		{"postinstall.sh", []string{"2"}, []string{reload}, false},

		// deb prerm and rpm %preun: only removal stops and disables.
		{"preremove.sh", []string{"remove"}, []string{stop, disable}, false},
		{"preremove.sh", []string{"upgrade", "0.2.0"}, nil, false},
		{"preremove.sh", []string{"deconfigure", "in-favour", "x", "1"}, nil, false},
		{"preremove.sh", []string{"failed-upgrade", "0.1.0"}, nil, false},
		{"preremove.sh", []string{"0"}, []string{stop, disable}, false},
		{"preremove.sh", []string{"1"}, nil, false},

		// deb postrm and rpm %postun.
		{"postremove.sh", []string{"remove"}, []string{reload}, false},
		{"postremove.sh", []string{"purge"}, []string{reload}, true},
		{"postremove.sh", []string{"upgrade", "0.2.0"}, []string{reload}, false},
		{"postremove.sh", []string{"disappear", "other", "1.0"}, []string{reload}, false},
		{"postremove.sh", []string{"failed-upgrade", "0.1.0"}, []string{reload}, false},
		{"postremove.sh", []string{"abort-install"}, []string{reload}, false},
		{"postremove.sh", []string{"abort-install", "0.1.0"}, []string{reload}, false},
		{"postremove.sh", []string{"abort-upgrade", "0.1.0"}, []string{reload}, false},
		{"postremove.sh", []string{"0"}, []string{reload}, false},
		{"postremove.sh", []string{"1"}, []string{reload, restart}, false},
	}
	for _, c := range cases {
		t.Run(c.script+" "+strings.Join(c.args, " "), func(t *testing.T) {
			got := runScript(t, c.script, true, false, c.args...)
			if !reflect.DeepEqual(got.calls, c.want) {
				t.Errorf("calls\n  %q\nwant\n  %q", got.calls, c.want)
			}
			if got.stateGone != c.purged {
				t.Errorf("state directory removed: %v, want %v", got.stateGone, c.purged)
			}
			// A failing systemctl (unit already gone, service failed) never
			// fails the package operation.
			runScript(t, c.script, true, true, c.args...)
		})
	}
}

// TestMaintainerScriptsWithoutSystemd: in a chroot or container build
// (no systemd as init) nothing is started, stopped or reloaded; removal
// still drops the enablement links.
func TestMaintainerScriptsWithoutSystemd(t *testing.T) {
	for _, c := range []struct {
		script string
		args   []string
		want   []string
	}{
		{"postinstall.sh", []string{"configure", "0.1.0"}, nil},
		{"postinstall.sh", []string{"2"}, nil},
		{"preremove.sh", []string{"remove"}, []string{disable}},
		{"preremove.sh", []string{"0"}, []string{disable}},
		{"postremove.sh", []string{"1"}, nil},
		{"postremove.sh", []string{"purge"}, nil},
	} {
		got := runScript(t, c.script, false, false, c.args...)
		if !reflect.DeepEqual(got.calls, c.want) {
			t.Errorf("%s %v without systemd: calls %q, want %q", c.script, c.args, got.calls, c.want)
		}
	}
}
