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
	r := startRunner(t, stateArgs(t, dir, append([]string{"--cluster", "prod-eu=" + srcs["prod-eu"].URL()},
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
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
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
	active := value(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll("script, iframe, img, form, [onerror], [onclick], a[href^='javascript' i]").length`))
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
}

func value[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
