// Package alertmanagertest runs a real Alertmanager for tests: the binary on
// a free loopback port, a temporary configuration whose only receiver is a
// webhook pointing at a given URL, and a way to post alerts to it. It also
// holds Receiver, an HTTP server that records every notification it gets,
// and StartPrometheus and Gauge, for the chain a cluster really has: a rule
// on a metric the test controls fires in Prometheus, which sends the alert
// to Alertmanager.
//
// Debian packages the binary as prometheus-alertmanager (package
// prometheus-alertmanager); upstream names it alertmanager. Prometheus is
// prometheus in both. Start and StartPrometheus skip the test when the
// binary is not installed, or fail it when CI is set.
package alertmanagertest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/testlog"
)

// Binaries are the names Start looks for on PATH, in order.
var Binaries = []string{"prometheus-alertmanager", "alertmanager"}

// ErrNotInstalled is returned by Binary when no Alertmanager is on PATH.
var ErrNotInstalled = errors.New("alertmanager not installed (Debian: apt-get install prometheus-alertmanager)")

// Binary returns the path of the Alertmanager binary.
func Binary() (string, error) {
	for _, name := range Binaries {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", ErrNotInstalled
}

// Config is the Alertmanager route and receiver a test wants. Zero
// durations take the short defaults below, so notifications come within a
// second or two.
type Config struct {
	// WebhookURL is where the receiver posts notifications.
	WebhookURL string
	// BearerToken, when set, is sent as "Authorization: Bearer ..." (from a
	// credentials_file, as production configurations do).
	BearerToken string
	// BasicAuthUser and BasicAuthPassword, when the user is set, are sent as
	// basic auth (the password from a password_file).
	BasicAuthUser     string
	BasicAuthPassword string
	// GroupBy lists the labels that group alerts into one notification.
	// Nil means ["alertname"].
	GroupBy []string
	// GroupWait defaults to 1s, GroupInterval to 1s, RepeatInterval to 1h.
	GroupWait      time.Duration
	GroupInterval  time.Duration
	RepeatInterval time.Duration
	// NoSendResolved turns off resolved notifications (send_resolved: false).
	NoSendResolved bool
}

// YAML renders the Alertmanager configuration file for c. Secrets are
// referenced as files under dir, which WriteFiles creates.
func (c Config) YAML(dir string) string {
	d := func(v, def time.Duration) string {
		if v <= 0 {
			v = def
		}
		return model(v)
	}
	groupBy := c.GroupBy
	if groupBy == nil {
		groupBy = []string{"alertname"}
	}
	quoted := make([]string, len(groupBy))
	for i, l := range groupBy {
		quoted[i] = strconv.Quote(l)
	}
	var auth string
	switch {
	case c.BearerToken != "":
		auth = fmt.Sprintf(`
        http_config:
          authorization:
            type: Bearer
            credentials_file: %q`, filepath.Join(dir, "token"))
	case c.BasicAuthUser != "":
		auth = fmt.Sprintf(`
        http_config:
          basic_auth:
            username: %q
            password_file: %q`, c.BasicAuthUser, filepath.Join(dir, "password"))
	}
	return fmt.Sprintf(`route:
  receiver: runner
  group_by: [%s]
  group_wait: %s
  group_interval: %s
  repeat_interval: %s
receivers:
  - name: runner
    webhook_configs:
      - url: %q
        send_resolved: %t%s
`, strings.Join(quoted, ", "), d(c.GroupWait, time.Second), d(c.GroupInterval, time.Second),
		d(c.RepeatInterval, time.Hour), c.WebhookURL, !c.NoSendResolved, auth)
}

// model formats a duration the way Alertmanager's configuration parses
// it: an integer count of one unit.
func model(d time.Duration) string {
	if d%time.Second == 0 {
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	return strconv.FormatInt(int64(d/time.Millisecond), 10) + "ms"
}

// WriteFiles writes alertmanager.yml and its secret files into dir and
// returns the configuration's path.
func (c Config) WriteFiles(dir string) (string, error) {
	if c.BearerToken != "" {
		if err := os.WriteFile(filepath.Join(dir, "token"), []byte(c.BearerToken+"\n"), 0o600); err != nil {
			return "", err
		}
	}
	if c.BasicAuthUser != "" {
		if err := os.WriteFile(filepath.Join(dir, "password"), []byte(c.BasicAuthPassword+"\n"), 0o600); err != nil {
			return "", err
		}
	}
	path := filepath.Join(dir, "alertmanager.yml")
	return path, os.WriteFile(path, []byte(c.YAML(dir)), 0o600)
}

// Alertmanager is one running Alertmanager process.
type Alertmanager struct {
	// URL is its base URL, http://127.0.0.1:PORT.
	URL string
	// Version is what the binary's --version printed first.
	Version string

	proc *process
}

// Start runs Alertmanager with c on a free loopback port, waits until it is
// ready, and stops it when the test ends.
func Start(t testing.TB, c Config) *Alertmanager {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		skipOrFail(t, err)
	}
	dir := t.TempDir()
	cfg, err := c.WriteFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	a, err := StartBinary(bin, cfg, filepath.Join(dir, "data"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		a.Stop()
		if t.Failed() {
			t.Logf("alertmanager logs:\n%s", a.Logs())
		}
	})
	return a
}

// skipOrFail skips the test when a binary is missing, unless CI is set:
// there the suite must not pass by skipping.
func skipOrFail(t testing.TB, err error) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatal(err)
	}
	t.Skip(err)
}

// StartBinary runs bin with the configuration file cfg and storage under
// dataDir on a free loopback port, with clustering off, and waits up to 30s
// for it to be ready. The caller must Stop it.
func StartBinary(bin, cfg, dataDir string) (*Alertmanager, error) {
	p, err := startProcess("alertmanager", bin, func(addr string) []string {
		return []string{
			"--config.file=" + cfg,
			"--storage.path=" + dataDir,
			"--web.listen-address=" + addr,
			// An empty address turns gossip off: no second port, no peers.
			"--cluster.listen-address=",
			"--log.level=debug",
		}
	})
	if err != nil {
		return nil, err
	}
	return &Alertmanager{URL: p.url, Version: p.version, proc: p}, nil
}

// Addr is host:port, for a Prometheus alerting configuration.
func (a *Alertmanager) Addr() string { return strings.TrimPrefix(a.URL, "http://") }

// Logs returns what the process has written so far.
func (a *Alertmanager) Logs() string { return a.proc.logs.String() }

// Stop terminates the process group (SIGTERM, then SIGKILL after 10s) and
// waits for it. It is safe to call more than once.
func (a *Alertmanager) Stop() { a.proc.stop() }

// process is a server binary on a free loopback port, in its own process
// group.
type process struct {
	url, version string
	cmd          *exec.Cmd
	logs         *testlog.Buffer
	exited       chan struct{}
	stopOnce     sync.Once
}

// startProcess runs bin with args(listenAddress) and waits up to 30s for
// GET /-/ready to answer 200.
func startProcess(name, bin string, args func(addr string) []string) (*process, error) {
	version := ""
	if out, err := exec.Command(bin, "--version").CombinedOutput(); err == nil {
		version, _, _ = strings.Cut(string(out), "\n")
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	p := &process{url: "http://" + addr, version: version, logs: &testlog.Buffer{}, exited: make(chan struct{})}
	p.cmd = exec.Command(bin, args(addr)...)
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() {
		_ = p.cmd.Wait()
		close(p.exited)
	}()
	deadline := time.Now().Add(30 * time.Second)
	client := &http.Client{Timeout: time.Second}
	defer client.CloseIdleConnections()
	for {
		resp, err := client.Get(p.url + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, nil
			}
		}
		select {
		case <-p.exited:
			return nil, fmt.Errorf("%s exited before it was ready:\n%s", name, p.logs.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, fmt.Errorf("%s not ready after 30s:\n%s", name, p.logs.String())
		}
	}
}

func (p *process) stop() {
	p.stopOnce.Do(func() {
		pgid := p.cmd.Process.Pid
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			<-p.exited
		}
		// Anything the binary forked goes with it.
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
	})
}

// Alert is one alert as clients post it to /api/v2/alerts.
type Alert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     time.Time         `json:"startsAt,omitzero"`
	EndsAt       time.Time         `json:"endsAt,omitzero"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// Post sends alerts to Alertmanager's API, as Prometheus does.
func (a *Alertmanager) Post(ctx context.Context, alerts ...Alert) error {
	body, err := json.Marshal(alerts)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.URL+"/api/v2/alerts", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("post alerts: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		return fmt.Errorf("post alerts: %s: %s", resp.Status, strings.TrimSpace(b.String()))
	}
	return nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
