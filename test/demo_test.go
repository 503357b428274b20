package test

import (
	"net/http"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/poll"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/testlog"
)

// TestBinaryDemoShowsReportsOnThePageAndTheWebhook: `demo` prints the
// incidents page URL, its local receiver prints signed notifications that
// link to the page, and the linked page serves the incident's report;
// its node storm shows as one incident of 13 faults.
func TestBinaryDemoShowsReportsOnThePageAndTheWebhook(t *testing.T) {
	ui := freePort(t)
	var out, logs testlog.Buffer
	cmd := exec.Command(binary(t), "demo", "--clusters", "1", "--rate", "1", "--duration", "60s",
		"--workspace-root", t.TempDir(), "--health-port", strconv.Itoa(freePort(t)),
		"--metrics-port", strconv.Itoa(freePort(t)), "--ui-port", strconv.Itoa(ui))
	cmd.Stdout, cmd.Stderr = &out, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("demo output:\n%s\nlogs:\n%s", out.String(), logs.String())
		}
	})
	page := "http://127.0.0.1:" + strconv.Itoa(ui)
	link := regexp.MustCompile(`Webhook: incident \S+ on demo-eu: \S+ success  (` + regexp.QuoteMeta(page) + `/incidents/\S+)`)
	poll.Until(t, 60*time.Second, "a notification at the demo's receiver", func() bool { return link.MatchString(out.String()) })
	if !strings.Contains(out.String(), "Incidents page: "+page+"/incidents") {
		t.Errorf("the demo does not print the page's URL:\n%s", out.String())
	}
	url := link.FindStringSubmatch(out.String())[1]
	code, body := httpGet(url)
	if code != http.StatusOK || !strings.Contains(body, `class="report`) {
		t.Fatalf("GET %s: %d\n%s", url, code, body)
	}
	// The demo's node storm collapses into one incident of 13 faults.
	poll.Until(t, 60*time.Second, "the node storm's incident on the page", func() bool {
		_, list := httpGet(page + "/incidents")
		return strings.Contains(list, "13 faults")
	})
}
