package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
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
	stub("systemd-tmpfiles", "exit "+rc+"\n")
	stub("deb-systemd-invoke", "exit "+rc+"\n")
	// As on a machine where the helper has never seen the unit: not
	// debian-installed, not was-enabled.
	stub("deb-systemd-helper", "case \"$1 $2\" in debian-installed* | \"--quiet was-enabled\") exit 1 ;; esac\nexit "+rc+"\n")
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
	copyPath := filepath.Join(root, filepath.Base(script))
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
	unitName = "kubernetes-mcp-runner.service"
	// deb: dh_installsystemd's ways.
	debReload      = "systemctl --system daemon-reload"
	debTmpfiles    = "systemd-tmpfiles --create kubernetes-mcp-runner.conf"
	debInstalled   = "deb-systemd-helper debian-installed " + unitName
	debUpdateState = "deb-systemd-helper update-state " + unitName
	debTryRestart  = "deb-systemd-invoke try-restart " + unitName
	debStop        = "deb-systemd-invoke stop " + unitName
	debMask        = "deb-systemd-helper mask " + unitName
	debPurge       = "deb-systemd-helper purge " + unitName
	debUnmask      = "deb-systemd-helper unmask " + unitName
	// rpm: the %systemd and %tmpfiles_create macros' ways.
	rpmTmpfiles = "systemd-tmpfiles --create /usr/lib/tmpfiles.d/kubernetes-mcp-runner.conf"
	rpmPreset   = "systemctl --no-reload preset " + unitName
	reload      = "systemctl daemon-reload"
	restart     = "systemctl try-restart " + unitName
	stop        = "systemctl stop " + unitName
	disable     = "systemctl disable " + unitName
)

// TestMaintainerScripts runs every script with every first argument dpkg
// (install, upgrade, configure, remove, purge, abort-*) or rpm (1 install,
// 2 upgrade, 0 erase) passes it, and asserts the calls: the deb goes
// through deb-systemd-helper and deb-systemd-invoke (systemctl only for
// daemon-reload), a deb remove stops without disabling, an rpm erase stops
// and disables, an upgrade restarts a running service exactly once, and
// the state directory comes from tmpfiles.d on every configure.
func TestMaintainerScripts(t *testing.T) {
	user := []string{"getent group kubernetes-mcp-runner", "groupadd --system kubernetes-mcp-runner",
		"getent passwd kubernetes-mcp-runner",
		"useradd --system --gid kubernetes-mcp-runner --home-dir /var/lib/kubernetes-mcp-runner --no-create-home --shell /usr/sbin/nologin kubernetes-mcp-runner",
		// The agents' own account (--agent-user).
		"getent group kubernetes-mcp-agent", "groupadd --system kubernetes-mcp-agent",
		"getent passwd kubernetes-mcp-agent",
		"useradd --system --gid kubernetes-mcp-agent --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin kubernetes-mcp-agent"}
	debConfigure := []string{debTmpfiles, debInstalled, debUpdateState, debReload}
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

		// deb postinst.
		{"deb/postinst.sh", []string{"configure", ""}, debConfigure, false},
		{"deb/postinst.sh", []string{"configure"}, debConfigure, false},
		{"deb/postinst.sh", []string{"configure", "0.1.0"}, append(debConfigure, debTryRestart), false},
		{"deb/postinst.sh", []string{"abort-upgrade", "0.2.0"}, append(debConfigure, debTryRestart), false},
		{"deb/postinst.sh", []string{"abort-remove"}, debConfigure, false},
		{"deb/postinst.sh", []string{"abort-deconfigure", "in-favour", "x", "1"}, append(debConfigure, debTryRestart), false},
		{"deb/postinst.sh", []string{"triggered", "x"}, nil, false},

		// deb prerm: only removal stops, and it does not disable.
		{"deb/prerm.sh", []string{"remove"}, []string{debStop}, false},
		{"deb/prerm.sh", []string{"upgrade", "0.2.0"}, nil, false},
		{"deb/prerm.sh", []string{"deconfigure", "in-favour", "x", "1"}, nil, false},
		{"deb/prerm.sh", []string{"failed-upgrade", "0.1.0"}, nil, false},

		// deb postrm: remove masks and keeps the state; purge forgets.
		{"deb/postrm.sh", []string{"remove"}, []string{debReload, debMask}, false},
		{"deb/postrm.sh", []string{"purge"}, []string{debPurge, debUnmask}, true},
		{"deb/postrm.sh", []string{"upgrade", "0.2.0"}, nil, false},
		{"deb/postrm.sh", []string{"disappear", "other", "1.0"}, nil, false},
		{"deb/postrm.sh", []string{"failed-upgrade", "0.1.0"}, nil, false},
		{"deb/postrm.sh", []string{"abort-install"}, nil, false},
		{"deb/postrm.sh", []string{"abort-install", "0.1.0"}, nil, false},
		{"deb/postrm.sh", []string{"abort-upgrade", "0.1.0"}, nil, false},

		// rpm %post, %preun, %postun.
		{"rpm/post.sh", []string{"1"}, []string{rpmTmpfiles, rpmPreset, reload}, false},
		{"rpm/post.sh", []string{"2"}, []string{rpmTmpfiles, reload}, false},
		{"rpm/preun.sh", []string{"0"}, []string{stop, disable}, false},
		{"rpm/preun.sh", []string{"1"}, nil, false},
		{"rpm/postun.sh", []string{"0"}, []string{reload}, false},
		{"rpm/postun.sh", []string{"1"}, []string{reload, restart}, false},
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
			// A failing systemctl or helper (unit already gone, service
			// failed) never fails the package operation.
			runScript(t, c.script, true, true, c.args...)
		})
	}
}

// TestMaintainerScriptsWithoutSystemd: in a chroot or container build
// (no systemd as init) nothing is started, stopped or reloaded; the
// helpers still record and mask, and an rpm erase still drops the links.
func TestMaintainerScriptsWithoutSystemd(t *testing.T) {
	for _, c := range []struct {
		script string
		args   []string
		want   []string
	}{
		{"deb/postinst.sh", []string{"configure", "0.1.0"}, []string{debTmpfiles, debInstalled, debUpdateState}},
		{"deb/prerm.sh", []string{"remove"}, nil},
		{"deb/postrm.sh", []string{"remove"}, []string{debMask}},
		{"deb/postrm.sh", []string{"purge"}, []string{debPurge, debUnmask}},
		{"rpm/post.sh", []string{"2"}, []string{rpmTmpfiles}},
		{"rpm/preun.sh", []string{"0"}, []string{disable}},
		{"rpm/postun.sh", []string{"1"}, nil},
	} {
		got := runScript(t, c.script, false, false, c.args...)
		if !reflect.DeepEqual(got.calls, c.want) {
			t.Errorf("%s %v without systemd: calls %q, want %q", c.script, c.args, got.calls, c.want)
		}
	}
}

// TestLintianSystemctl: the deb scripts call systemctl for daemon-reload
// only, as lintian's maintainer-script-calls-systemctl asks; the rest goes
// through deb-systemd-helper and deb-systemd-invoke.
func TestLintianSystemctl(t *testing.T) {
	for _, script := range []string{"deb/postinst.sh", "deb/prerm.sh", "deb/postrm.sh"} {
		data, err := os.ReadFile(filepath.Join("scripts", script))
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(data), "\n") {
			l := strings.TrimSpace(line)
			if strings.HasPrefix(l, "#") {
				continue
			}
			if regexp.MustCompile(`^(?:.+;)?\s*systemctl\b`).MatchString(l) && !strings.Contains(l, "daemon-reload") {
				t.Errorf("%s:%d calls systemctl: %s", script, i+1, l)
			}
		}
	}
}

// TestDebRemoveKeepsEnableState runs the deb scripts against a scratch
// root (DPKG_ROOT) with the real deb-systemd-helper and systemd-tmpfiles:
// a fresh install neither enables the unit nor loses the state directory;
// an operator's enable survives remove and reinstall, as with
// dh_installsystemd; purge removes the links and the state.
func TestDebRemoveKeepsEnableState(t *testing.T) {
	tool(t, "deb-systemd-helper")
	root := t.TempDir()
	unitPath := filepath.Join(root, "usr/lib/systemd/system", unitName)
	link := filepath.Join(root, "etc/systemd/system/multi-user.target.wants", unitName)
	stateDir := filepath.Join(root, "var/lib/kubernetes-mcp-runner")
	unit, err := os.ReadFile("systemd/" + unitName)
	if err != nil {
		t.Fatal(err)
	}
	tmpfiles, err := os.ReadFile("systemd/kubernetes-mcp-runner.tmpfiles")
	if err != nil {
		t.Fatal(err)
	}
	write := func(path string, data []byte) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// What unpacking the package puts in place; the service user exists
	// (preinst) in the scratch root's own user database.
	unpack := func() {
		write(unitPath, unit)
		write(filepath.Join(root, "usr/lib/tmpfiles.d/kubernetes-mcp-runner.conf"), tmpfiles)
	}
	write(filepath.Join(root, "etc/passwd"), []byte("root:x:0:0::/root:/bin/sh\nkubernetes-mcp-runner:x:996:996::/var/lib/kubernetes-mcp-runner:/usr/sbin/nologin\n"))
	write(filepath.Join(root, "etc/group"), []byte("root:x:0:\nkubernetes-mcp-runner:x:996:\n"))
	script := func(name string, args ...string) {
		t.Helper()
		cmd := exec.Command("/bin/sh", append([]string{"-e", filepath.Join("scripts", name)}, args...)...)
		// As dpkg runs it: the helper does nothing outside dpkg.
		cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "DPKG_ROOT=" + root,
			"DPKG_MAINTSCRIPT_PACKAGE=kubernetes-mcp-runner", "DPKG_MAINTSCRIPT_NAME=" + strings.TrimSuffix(filepath.Base(name), ".sh")}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
	}
	exists := func(path string) bool {
		_, err := os.Lstat(path)
		return err == nil
	}
	masked := func() bool {
		target, err := os.Readlink(filepath.Join(root, "etc/systemd/system", unitName))
		return err == nil && target == "/dev/null"
	}

	unpack()
	script("deb/postinst.sh", "configure", "")
	if exists(link) {
		t.Fatal("a fresh install enabled the unit")
	}
	if _, err := exec.LookPath("systemd-tmpfiles"); err == nil {
		// 0711: agents of --agent-user reach their workspace below it
		// but cannot list it; state.db and the rest are 0600.
		if fi, err := os.Stat(stateDir); err != nil || fi.Mode().Perm() != 0o711 || !fi.IsDir() {
			t.Errorf("tmpfiles.d did not create the state directory 0711: %v %v", fi, err)
		}
	}

	// The operator enables it, as systemctl enable would.
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/usr/lib/systemd/system/"+unitName, link); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(stateDir, "incidents"), 0o700); err != nil {
		t.Fatal(err)
	}

	// apt remove: prerm, files deleted, postrm.
	script("deb/prerm.sh", "remove")
	if err := os.Remove(unitPath); err != nil {
		t.Fatal(err)
	}
	script("deb/postrm.sh", "remove")
	if !exists(link) {
		t.Error("remove dropped the enable link: a reinstall would come back disabled")
	}
	if !masked() {
		t.Error("remove did not mask the unit the package no longer ships")
	}
	if !exists(filepath.Join(stateDir, "incidents")) {
		t.Error("remove deleted the state")
	}

	// apt install again: dpkg passes the version last configured.
	unpack()
	script("deb/postinst.sh", "configure", "0.1.0")
	if !exists(link) || masked() {
		t.Errorf("after reinstall: enabled %v, masked %v; want enabled and unmasked", exists(link), masked())
	}

	// apt purge: remove, then purge.
	script("deb/prerm.sh", "remove")
	if err := os.Remove(unitPath); err != nil {
		t.Fatal(err)
	}
	script("deb/postrm.sh", "remove")
	script("deb/postrm.sh", "purge")
	if exists(link) || masked() {
		t.Errorf("after purge: enable link %v, masked %v; want neither", exists(link), masked())
	}
	if exists(stateDir) {
		t.Error("purge kept the state directory")
	}
}
