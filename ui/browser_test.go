//go:build browser

package ui

// The browser test loads the pages in a real headless Chromium (Debian's
// chromium package) through the DevTools protocol. Run it with
// `make browser`; set CHROMIUM to the browser binary if it is not on PATH
// as chromium, and UI_SCREENSHOT_DIR to keep the screenshots.

import (
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

func browser(t *testing.T) (context.Context, context.CancelFunc) {
	t.Helper()
	exe := os.Getenv("CHROMIUM")
	if exe == "" {
		var err error
		if exe, err = exec.LookPath("chromium"); err != nil {
			t.Fatalf("chromium not found (apt-get install chromium, or set CHROMIUM): %v", err)
		}
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox, // the test may run as root in CI
		chromedp.DisableGPU,
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1100, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	return ctx, func() { cancelTimeout(); cancelCtx(); cancelAlloc() }
}

func run[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func screenshotDir(t *testing.T) string {
	if d := os.Getenv("UI_SCREENSHOT_DIR"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

func TestBrowserRendersReportAndRunsNoScript(t *testing.T) {
	h, err := New(Options{Store: sampleStore(), Title: "kubernetes-mcp-runner · incidents", Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	ctx, cancel := browser(t)
	defer cancel()
	dir := screenshotDir(t)

	if err := chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/incidents"),
		chromedp.WaitVisible(chromedp.CSS("table.list")),
	); err != nil {
		t.Fatal(err)
	}
	listText := run(t, ctx, chromedp.Text(chromedp.CSS("main")))
	listShot := run(t, ctx, chromedp.FullScreenshot(100))
	for _, want := range []string{"a1b2c3d4e5f60718-mx1abc", "prod-us", "failure 2"} {
		if !strings.Contains(listText, want) {
			t.Errorf("list page lacks %q:\n%s", want, listText)
		}
	}

	// Follow the link from the list, as a person would.
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`a[href="/incidents/a1b2c3d4e5f60718-mx1abc"]`)),
		chromedp.WaitVisible(chromedp.CSS("article.report")),
	); err != nil {
		t.Fatal(err)
	}
	reportText := run(t, ctx, chromedp.Text(chromedp.CSS("article.report")))
	heading := run(t, ctx, chromedp.Text(chromedp.CSS("article.report h1")))
	pwned := run(t, ctx, chromedp.Evaluate[bool](`typeof window.__pwned !== "undefined"`))
	active := run(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll("script, iframe, img, form, [onerror], [onclick], a[href^='javascript' i]").length`))
	pageShot := run(t, ctx, chromedp.FullScreenshot(100))
	if heading != "CrashLoop in payments/api: bad DATABASE_URL" {
		t.Errorf("report heading %q", heading)
	}
	for _, want := range []string{"Restore the secret and roll the deployment.", "kubectl -n payments rollout undo deploy/api", "fails"} {
		if !strings.Contains(reportText, want) {
			t.Errorf("rendered report lacks %q:\n%s", want, reportText)
		}
	}
	if pwned {
		t.Error("a script from the report ran: window.__pwned is defined")
	}
	if active != 0 {
		t.Errorf("the page holds %d scripts, frames, images, forms, event handlers or javascript: links", active)
	}

	// The list on a phone-sized screen does not scroll sideways.
	if err := chromedp.Do(ctx,
		chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)),
		chromedp.Navigate(srv.URL+"/incidents"),
		chromedp.WaitVisible(chromedp.CSS("table.list")),
	); err != nil {
		t.Fatal(err)
	}
	if run(t, ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`)) {
		t.Error("the list scrolls sideways on a 390 px wide screen")
	}
	phoneShot := run(t, ctx, chromedp.CaptureScreenshot())

	for name, b := range map[string][]byte{"incidents-list.png": listShot, "incidents-page.png": pageShot, "incidents-phone.png": phoneShot} {
		if len(b) < 1000 || string(b[1:4]) != "PNG" {
			t.Fatalf("%s: not a PNG (%d bytes)", name, len(b))
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", p)
	}
}

// People page through the list with its links, reach the clusters view
// from the header, and pause the refresh: all without a script.
func TestBrowserPagesTheListAndShowsClusters(t *testing.T) {
	h, err := New(Options{Store: manyStore(7), ListLimit: 3, Refresh: 30 * time.Second, Now: func() time.Time { return now },
		ClusterStatus: func(context.Context) ([]ClusterStatus, error) {
			return []ClusterStatus{
				{Name: "eu", Connected: true, LastFault: now.Add(-time.Minute), LastIncident: "inc0000-x", LastFaultType: "CrashLoop", QueueDepth: 2},
				{Name: "us", BlindSince: now.Add(-10 * time.Minute)},
			}, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	ctx, cancel := browser(t)
	defer cancel()

	rows := func() string {
		return run(t, ctx, chromedp.Evaluate[string](`[...document.querySelectorAll("table.list td.id a")].map(a => a.textContent).join(" ")`))
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/incidents"), chromedp.WaitVisible(chromedp.CSS("table.list"))); err != nil {
		t.Fatal(err)
	}
	var pages []string
	pages = append(pages, rows())
	for range 2 {
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#older")), chromedp.WaitVisible(chromedp.CSS("#newer"))); err != nil {
			t.Fatal(err)
		}
		pages = append(pages, rows())
	}
	want := []string{"inc0000-x inc0001-x inc0002-x", "inc0003-x inc0004-x inc0005-x", "inc0006-x"}
	if strings.Join(pages, "|") != strings.Join(want, "|") {
		t.Errorf("pages %q, want %q", pages, want)
	}
	if n := run(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll("#older").length`)); n != 0 {
		t.Error("the last page offers an older page")
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#pause")), chromedp.WaitVisible(chromedp.CSS("#resume"))); err != nil {
		t.Fatal(err)
	}
	if n := run(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll("meta[http-equiv=refresh]").length`)); n != 0 {
		t.Error("the paused list still refreshes")
	}

	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`header a[href="/clusters"]`)),
		chromedp.WaitVisible(chromedp.CSS("table.clusters")),
	); err != nil {
		t.Fatal(err)
	}
	text := run(t, ctx, chromedp.Text(chromedp.CSS("main")))
	for _, w := range []string{"eu", "connected", "inc0000-x", "us", "blind", "since 2026-03-04T11:50:00Z", "1 blind"} {
		if !strings.Contains(text, w) {
			t.Errorf("clusters view lacks %q:\n%s", w, text)
		}
	}
	if err := chromedp.Do(ctx,
		chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)),
		chromedp.Navigate(srv.URL+"/clusters"),
		chromedp.WaitVisible(chromedp.CSS("table.clusters")),
	); err != nil {
		t.Fatal(err)
	}
	if run(t, ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`)) {
		t.Error("the clusters view scrolls sideways on a 390 px wide screen")
	}
	shot := run(t, ctx, chromedp.CaptureScreenshot())
	p := filepath.Join(screenshotDir(t), "clusters-phone.png")
	if err := os.WriteFile(p, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", p)
}
