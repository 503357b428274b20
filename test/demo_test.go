package test

import (
	"encoding/json"
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
// its node storm shows as one incident of 13 faults, and with no
// arguments but its ports it shows every other state once: a success, a
// failure, a delivery refused once and retried, the breaker opening and
// closing, and a timeout, on the page and in /api/incidents.
func TestBinaryDemoShowsReportsOnThePageAndTheWebhook(t *testing.T) {
	ports := freePorts(t, 3)
	ui := ports[0]
	var out, logs testlog.Buffer
	cmd := exec.Command(binary(t), "demo", "--clusters", "1", "--rate", "1", "--duration", "180s",
		"--workspace-root", t.TempDir(), "--health-port", strconv.Itoa(ports[1]),
		"--metrics-port", strconv.Itoa(ports[2]), "--ui-port", strconv.Itoa(ui))
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

	// Each state once, as /api/incidents and the page show them.
	seen := map[string]bool{}
	defer func() {
		if t.Failed() {
			t.Logf("states seen: %v", seen)
		}
	}()
	states := []string{"success", "failure", "timeout", "grouped", "delivery retried", "breaker opened", "breaker closed"}
	poll.Until(t, 150*time.Second, "every state of the demo's mix", func() bool {
		_, body := httpGet(page + "/api/incidents?limit=0")
		var rows []struct {
			Status, Resource string
			Group            *struct{ Members []json.RawMessage }
			Deliveries       []struct {
				State    string
				Attempts int
			}
		}
		if json.Unmarshal([]byte(body), &rows) != nil {
			return false
		}
		for _, r := range rows {
			switch {
			case r.Status == "success" && r.Group != nil && len(r.Group.Members) == 13:
				seen["grouped"] = true
			case r.Status == "success" && strings.HasSuffix(r.Resource, "/flaky-frontend"):
				for _, d := range r.Deliveries {
					seen["delivery retried"] = seen["delivery retried"] || d.State == "delivered" && d.Attempts >= 2
				}
			case r.Status == "failure" && strings.HasSuffix(r.Resource, "/fail-nightly-report"),
				r.Status == "timeout" && strings.HasSuffix(r.Resource, "/hang-batch-worker"),
				r.Status == "success":
				seen[r.Status] = true
			}
		}
		seen["breaker opened"] = strings.Contains(out.String(), "Webhook: notice Triage degraded")
		seen["breaker closed"] = strings.Contains(out.String(), "Webhook: notice Triage recovered")
		for _, s := range states {
			if !seen[s] {
				return false
			}
		}
		return true
	})
	// The page finds the timeout by its resource and marks it apart.
	_, list := httpGet(page + "/incidents?q=hang-batch&status=timeout")
	if !strings.Contains(list, `class="badge slow">timeout`) || !strings.Contains(list, "hang-batch-worker") {
		t.Errorf("the page does not find the timeout:\n%s", list)
	}
}
