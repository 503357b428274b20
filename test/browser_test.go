//go:build browser

package test

// The browser test loads the incidents page served by the built binary in
// a real headless Chromium (Debian's chromium package) through the DevTools
// protocol. Run it with `make browser`; set CHROMIUM to the browser binary
// if it is not on PATH as chromium, and UI_SCREENSHOT_DIR to keep the
// screenshots.

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/poll"
)

func TestBrowserIncidentsPageServedByTheBinary(t *testing.T) {
	exe := os.Getenv("CHROMIUM")
	if exe == "" {
		var err error
		if exe, err = exec.LookPath("chromium"); err != nil {
			t.Fatalf("chromium not found (apt-get install chromium, or set CHROMIUM): %v", err)
		}
	}
	rcv := startReceiver(t, nil)
	srcs := startSources(t, "prod-eu")
	dir := t.TempDir()
	r := startRunner(t, stateArgs(t, dir, append([]string{"--cluster", "prod-eu=" + srcs["prod-eu"].URL(), "--group-wait", "1"},
		notifyArgs(t, dir, map[string]string{"incident-bridge": rcv.srv.URL})...)...)...)
	poll.Until(t, 15*time.Second, "subscription", func() bool { return srcs["prod-eu"].Subscribers() == 1 })
	emit(srcs["prod-eu"], "prod-eu", 0, "report-api")
	poll.Until(t, 30*time.Second, "the notification", func() bool { _, h := rcv.counts(); return h == 1 })
	rcv.mu.Lock()
	id := rcv.handled[0].Incident.ID
	rcv.mu.Unlock()
	poll.Until(t, 10*time.Second, "the delivered state", func() bool {
		d := deliveries(t, r)["incident-bridge"]
		return d != nil && d["state"] == "delivered"
	})

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.WindowSize(1100, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancelCtx := chromedp.NewContext(actx)
	defer cancelCtx()
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()

	if err := chromedp.Do(ctx,
		chromedp.Navigate(r.uiURL+"/incidents"),
		chromedp.WaitVisible(chromedp.CSS("table.list")),
	); err != nil {
		t.Fatal(err)
	}
	listText := value(t, ctx, chromedp.Text(chromedp.CSS("main")))
	for _, want := range []string{id, "prod-eu", "success"} {
		if !strings.Contains(listText, want) {
			t.Errorf("list page lacks %q:\n%s", want, listText)
		}
	}
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`a[href="/incidents/`+id+`"]`)),
		chromedp.WaitVisible(chromedp.CSS("article.report")),
	); err != nil {
		t.Fatal(err)
	}
	heading := value(t, ctx, chromedp.Text(chromedp.CSS("article.report h1")))
	pageText := value(t, ctx, chromedp.Text(chromedp.CSS("main")))
	pwned := value(t, ctx, chromedp.Evaluate[bool](`typeof window.__pwned !== "undefined"`))
	// The page's one form is its own feedback form; the report holds none.
	active := value(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll("script, iframe, img, form:not(.feedback), [onerror], [onclick], a[href^='javascript' i]").length`))
	shot := value(t, ctx, chromedp.FullScreenshot(100))
	if heading != "CrashLoop in payments/api: bad DATABASE_URL" {
		t.Errorf("report heading %q", heading)
	}
	for _, want := range []string{"kubectl -n payments rollout undo deploy/api", "incident-bridge", "delivered", "test agent for report-api"} {
		if !strings.Contains(pageText, want) {
			t.Errorf("incident page lacks %q:\n%s", want, pageText)
		}
	}
	if pwned {
		t.Error("a script from the report ran: window.__pwned is defined")
	}
	if active != 0 {
		t.Errorf("the page holds %d scripts, frames, images, forms, event handlers or javascript: links", active)
	}
	if len(shot) < 1000 || string(shot[1:4]) != "PNG" {
		t.Fatalf("screenshot is not a PNG (%d bytes)", len(shot))
	}
	out := os.Getenv("UI_SCREENSHOT_DIR")
	if out == "" {
		out = t.TempDir()
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(out, "incidents-page-binary.png")
	if err := os.WriteFile(p, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", p)

	// The page's security headers come from the binary too.
	resp, err := http.Get(r.uiURL + "/incidents/" + id)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("Content-Security-Policy %q", csp)
	}

	// Feedback round trip: mark the diagnosis wrong with a note on the
	// page, see it there, and the next fault of the same pod, which the
	// cooldown would have attached to this incident, runs.
	// The browser submits the page's own form (DevTools sets the fields:
	// the page runs no script of its own).
	value(t, ctx, chromedp.Evaluate[bool](`(() => {
		const f = document.querySelector("form.feedback");
		f.querySelector('input[value="wrong"]').checked = true;
		f.querySelector('input[name="note"]').value = "the secret was fine; the node ran out of disk";
		f.requestSubmit();
		return true;
	})()`))
	wctx, wcancel := context.WithTimeout(ctx, 20*time.Second)
	err = chromedp.Do(wctx, chromedp.WaitVisible(chromedp.CSS(`#feedback + p .badge`)))
	wcancel()
	if err != nil {
		loc := value(t, ctx, chromedp.Location())
		body := value(t, ctx, chromedp.Text(chromedp.CSS("body")))
		t.Fatalf("after the form, at %s: %v\n%s", loc, err, body)
	}
	judged := value(t, ctx, chromedp.Text(chromedp.CSS(`#feedback + p`)))
	if !strings.Contains(judged, "wrong") || !strings.Contains(judged, "ran out of disk") {
		t.Errorf("the page shows %q after the verdict, want wrong and the note", judged)
	}
	if got := r.metric("kubernetes_mcp_runner_incident_feedback_total", `verdict="wrong"`); got != 1 {
		t.Errorf("incident_feedback_total{verdict=wrong} = %v, want 1", got)
	}
	emit(srcs["prod-eu"], "prod-eu", 1, "report-api")
	poll.Until(t, 30*time.Second, "the next fault of the pod to run", func() bool {
		return r.metric("kubernetes_mcp_runner_agents_completed_total", `cluster="prod-eu"`) == 2
	})
	if got := r.metric("kubernetes_mcp_runner_events_related_total", `cluster="prod-eu"`); got != 0 {
		t.Errorf("events_related_total %v: the fault attached to a diagnosis marked wrong", got)
	}
}

func value[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
