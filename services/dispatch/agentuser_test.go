package dispatch

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/incident"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/testagent"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/procutil"
)

// isolated starts a dispatcher whose agents run as nobody, for clusters
// prod and staging, each with a kubeconfig only the runner's user may
// read, beside the runner's own secret files.
func isolated(t *testing.T, limits procutil.Limits, extraEnv map[string]string) (f *fixture, secrets map[string]string) {
	t.Helper()
	bin, dir := testagent.OtherUser(t)
	secretDir := filepath.Join(dir, "secrets")
	// Traversable by anyone, so only each file's own mode protects it.
	if err := os.Mkdir(secretDir, 0o755); err != nil {
		t.Fatal(err)
	}
	secrets = map[string]string{}
	for _, name := range []string{"prod.kubeconfig", "staging.kubeconfig", "bearer-token", "hmac-key", "slack-url"} {
		p := filepath.Join(secretDir, name)
		if err := os.WriteFile(p, []byte("secret of "+name+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		secrets[name] = p
	}
	root := filepath.Join(dir, "incidents")
	f = start(t, settings{clusters: []string{"prod", "staging"}, root: root, tweak: func(o *Options) {
		o.Agent.Command = bin
		o.Kubeconfigs = map[string]string{"prod": secrets["prod.kubeconfig"], "staging": secrets["staging.kubeconfig"]}
		o.Agent.Isolation = Isolation{
			User:   &procutil.User{UID: testagent.NobodyUID, GID: testagent.NobodyGID},
			Limits: limits,
			Helper: bin,
		}
		var files []string
		for _, p := range secrets {
			files = append(files, p)
		}
		env := map[string]string{"ATTACK_FILES": strings.Join(files, ":")}
		for k, v := range extraEnv {
			env[k] = v
		}
		lookup := o.LookupEnv
		o.LookupEnv = func(k string) (string, bool) {
			if v, ok := env[k]; ok {
				return v, true
			}
			return lookup(k)
		}
		o.Agent.EnvAllow = append(o.Agent.EnvAllow, "ATTACK_FILES", "ATTACK_FORKS")
	}})
	if err := os.MkdirAll(root, 0o700); err != nil {
		t.Fatal(err)
	}
	return f, secrets
}

func (f *fixture) report(t *testing.T, r incident.Result) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(f.root, r.Cluster, r.IncidentID, "output", "investigation.md"))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestIsolatedAgentCannotReachTheRunner: an agent run as --agent-user
// cannot read the runner's environment, cannot read any secret file but
// its own cluster's kubeconfig (through its copy), and cannot signal the
// runner; the runner still reads its report and owns its workspace after.
func TestIsolatedAgentCannotReachTheRunner(t *testing.T) {
	f, secrets := isolated(t, procutil.Limits{}, map[string]string{"ATTACK_FORKS": "1"})
	f.push(t, "prod", "attacker-api")
	f.waitCompleted(t, "prod", incident.StatusSuccess, 1)
	r := f.results(t, "prod")[0]
	report := f.report(t, r)
	got := testagent.Findings(report)
	if got["uid"] != strconv.Itoa(testagent.NobodyUID) {
		t.Fatalf("agent ran as uid %q, want nobody:\n%s", got["uid"], report)
	}
	want := map[string]string{"environ": "denied", "signal": "denied", "kubeconfig": "read"}
	for _, p := range secrets {
		want["file "+p] = "denied"
	}
	for attempt, w := range want {
		if got[attempt] != w {
			t.Errorf("%s: %q, want %q", attempt, got[attempt], w)
		}
	}
	if t.Failed() {
		t.Fatalf("report:\n%s", report)
	}

	ws := filepath.Join(f.root, "prod", r.IncidentID)
	doc := testagent.Event(t, f.root, r)
	if doc.Kubeconfig != filepath.Join(ws, "kubeconfig") {
		t.Errorf("event.json names kubeconfig %q, want the workspace's copy", doc.Kubeconfig)
	}
	if _, err := os.Lstat(doc.Kubeconfig); !os.IsNotExist(err) {
		t.Errorf("the kubeconfig copy outlived the run: %v", err)
	}
	// Taken back: the runner's user owns everything the agent made.
	_ = filepath.WalkDir(ws, func(p string, _ os.DirEntry, err error) error {
		if err != nil {
			t.Error(err)
			return nil
		}
		st, _ := os.Lstat(p)
		if sys := st.Sys().(*syscall.Stat_t); int(sys.Uid) != os.Getuid() {
			t.Errorf("%s is owned by uid %d after the run", p, sys.Uid)
		}
		return nil
	})
}

// TestIsolatedAgentGetsItsOwnClusterOnly: the kubeconfig copy an agent
// reads is its own cluster's, for each cluster.
func TestIsolatedAgentGetsItsOwnClusterOnly(t *testing.T) {
	f, _ := isolated(t, procutil.Limits{}, nil)
	f.push(t, "prod", "kubeconfig-api")
	f.push(t, "staging", "kubeconfig-api")
	f.waitCompleted(t, "prod", incident.StatusSuccess, 1)
	f.waitCompleted(t, "staging", incident.StatusSuccess, 1)
	for _, cluster := range []string{"prod", "staging"} {
		r := f.results(t, cluster)[0]
		if got, want := f.report(t, r), "secret of "+cluster+".kubeconfig\n"; !strings.HasPrefix(got, want) {
			t.Errorf("%s agent read kubeconfig %q, want %q", cluster, got, want)
		}
	}
}

// TestIsolatedAgentCannotForkPastItsLimit: --agent-max-processes stops an
// agent's forks with EAGAIN below the limit.
func TestIsolatedAgentCannotForkPastItsLimit(t *testing.T) {
	const nproc = 40
	f, _ := isolated(t, procutil.Limits{Processes: nproc, OpenFiles: 256}, map[string]string{"ATTACK_FORKS": "500"})
	f.push(t, "prod", "attacker-api")
	f.waitCompleted(t, "prod", incident.StatusSuccess, 1)
	got := testagent.Findings(f.report(t, f.results(t, "prod")[0]))
	n, err := strconv.Atoi(got["fork"])
	if err != nil || n >= nproc || !strings.Contains(got["fork error"], syscall.EAGAIN.Error()) {
		t.Errorf("agent forked %q children (%s) under a limit of %d, want fewer and EAGAIN", got["fork"], got["fork error"], nproc)
	}
}
