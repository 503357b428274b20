// Package alertmanagertest runs a real Alertmanager for tests: the binary on
// a free loopback port, a temporary configuration whose only receiver is a
// webhook pointing at a given URL, and a way to post alerts to it. It also
// holds Receiver, an HTTP server that records every notification it gets.
//
// Debian packages the binary as prometheus-alertmanager (package
// prometheus-alertmanager); upstream names it alertmanager. Start skips the
// test when neither is installed, or fails it when CI is set.
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

	cmd      *exec.Cmd
	logs     *testlog.Buffer
	exited   chan struct{}
	stopOnce sync.Once
}

// Start runs Alertmanager with c on a free loopback port, waits until it is
// ready, and stops it when the test ends.
func Start(t testing.TB, c Config) *Alertmanager {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
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

// StartBinary runs bin with the configuration file cfg and storage under
// dataDir on a free loopback port, with clustering off, and waits up to 30s
// for it to be ready. The caller must Stop it.
func StartBinary(bin, cfg, dataDir string) (*Alertmanager, error) {
	version := ""
	if out, err := exec.Command(bin, "--version").CombinedOutput(); err == nil {
		version, _, _ = strings.Cut(string(out), "\n")
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	a := &Alertmanager{
		URL:     "http://127.0.0.1:" + strconv.Itoa(port),
		Version: version,
		logs:    &testlog.Buffer{},
		exited:  make(chan struct{}),
	}
	a.cmd = exec.Command(bin,
		"--config.file="+cfg,
		"--storage.path="+dataDir,
		"--web.listen-address=127.0.0.1:"+strconv.Itoa(port),
		// An empty address turns gossip off: no second port, no peers.
		"--cluster.listen-address=",
		"--log.level=debug",
	)
	a.cmd.Stdout, a.cmd.Stderr = a.logs, a.logs
	a.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := a.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() {
		_ = a.cmd.Wait()
		close(a.exited)
	}()
	deadline := time.Now().Add(30 * time.Second)
	client := &http.Client{Timeout: time.Second}
	for {
		resp, err := client.Get(a.URL + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return a, nil
			}
		}
		select {
		case <-a.exited:
			return nil, fmt.Errorf("alertmanager exited before it was ready:\n%s", a.logs.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			a.Stop()
			return nil, fmt.Errorf("alertmanager not ready after 30s:\n%s", a.logs.String())
		}
	}
}

// Addr is host:port, for a Prometheus alerting configuration.
func (a *Alertmanager) Addr() string { return strings.TrimPrefix(a.URL, "http://") }

// Logs returns what the process has written so far.
func (a *Alertmanager) Logs() string { return a.logs.String() }

// Stop terminates the process group (SIGTERM, then SIGKILL after 10s) and
// waits for it. It is safe to call more than once.
func (a *Alertmanager) Stop() {
	a.stopOnce.Do(func() {
		pgid := a.cmd.Process.Pid
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-a.exited:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			<-a.exited
		}
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
