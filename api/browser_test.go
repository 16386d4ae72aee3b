package api_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// chromiumPath returns the browser binary, or "" if there is none.
func chromiumPath() string {
	if p := os.Getenv("GRIDD_CHROMIUM"); p != "" {
		return p
	}
	for _, p := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// needChromium returns the browser binary or skips the test (fails it under
// GRIDD_REQUIRE_PEERS=1, where scripts/lib/browser.sh has installed one).
func needChromium(t *testing.T) string {
	t.Helper()
	bin := chromiumPath()
	if bin == "" {
		if os.Getenv("GRIDD_REQUIRE_PEERS") == "1" {
			t.Fatal("chromium not found and GRIDD_REQUIRE_PEERS=1 (scripts/lib/browser.sh installs it)")
		}
		t.Skip("chromium not found (apt-get install chromium, or set GRIDD_CHROMIUM)")
	}
	return bin
}

// page is one Chromium tab driven with chromedp. Every step fails the test naming
// the step, with a screenshot of the page kept under artifacts(t).
type page struct {
	t    *testing.T
	ctx  context.Context // the steps' context (with the test's timeout)
	bctx context.Context // the browser's
	name string          // prefix of the screenshots
}

// viewport is a page size and colour scheme to test the console at.
type viewport struct {
	Width, Height int64
	Dark          bool
}

var (
	desktop = viewport{Width: 1280, Height: 1000}
	phone   = viewport{Width: 390, Height: 844}
)

// openPage starts a headless Chromium with a fresh profile (the machine's network is
// closed: no background networking, QUIC, component updates or sync) and opens url
// at the viewport.
func openPage(t *testing.T, bin, name, url string, vp viewport) *page {
	t.Helper()
	// Chromium's helper processes can still write into the profile after the main
	// process is gone, so the profile lives in a directory removed after the browser.
	dir, err := os.MkdirTemp("", "gridd-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for i := 0; i < 50; i++ {
			if os.RemoveAll(dir) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Logf("could not remove %s", dir)
	})
	actx, acancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(bin),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(filepath.Join(dir, "profile")),
		chromedp.WindowSize(int(vp.Width), int(vp.Height)),
	)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(func() { bcancel(); acancel() })
	// The first Run starts the browser and lives as long as bctx.
	if _, err := chromedp.Run(bctx, chromedp.Sleep(0)); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	ctx, cancel := context.WithTimeout(bctx, 120*time.Second)
	t.Cleanup(cancel)
	p := &page{t: t, ctx: ctx, bctx: bctx, name: name}
	p.do("viewport", chromedp.EmulateViewport(vp.Width, vp.Height))
	scheme := "light"
	if vp.Dark {
		scheme = "dark"
	}
	p.do("colour scheme", chromedp.Func(func(ctx context.Context, tgt *chromedp.Target) error { return emulateScheme(ctx, tgt, scheme) }))
	p.do("open "+url, chromedp.Navigate(url))
	return p
}

type contextT = context.Context

// emulateScheme sets the page's prefers-color-scheme ("light" or "dark").
func emulateScheme(ctx context.Context, tgt *chromedp.Target, scheme string) error {
	_, err := cdp.Call(ctx, tgt, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
	})
	return err
}

// do runs one step; on error it keeps a screenshot and fails the test.
func (p *page) do(what string, a chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if _, err := chromedp.Run(p.ctx, a); err != nil {
		p.fail(what, err)
	}
}

func (p *page) fail(what string, err error) {
	p.t.Helper()
	shot := filepath.Join(artifacts(p.t), p.name+"-failure.png")
	ctx, cancel := context.WithTimeout(p.bctx, 10*time.Second)
	defer cancel()
	if png, serr := chromedp.Run(ctx, chromedp.FullScreenshot(100)); serr == nil {
		_ = os.WriteFile(shot, png, 0o644)
	}
	p.t.Fatalf("%s: %v (screenshot %s)", what, err, shot)
}

// wait polls a JavaScript condition until it is true.
func (p *page) wait(what, cond string) {
	p.t.Helper()
	if _, err := chromedp.Run(p.ctx, chromedp.Poll[chromedp.Void](cond, chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(60*time.Second))); err != nil {
		p.fail(what+" (waiting for "+cond+")", err)
	}
}

// waitWithin polls a JavaScript condition until it is true, for at most d.
func (p *page) waitWithin(what, cond string, d time.Duration) {
	p.t.Helper()
	if _, err := chromedp.Run(p.ctx, chromedp.Poll[chromedp.Void](cond, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(d))); err != nil {
		p.fail(fmt.Sprintf("%s within %s (waiting for %s)", what, d, cond), err)
	}
}

// chromedpTypeFocused types text into whatever element has the focus.
func chromedpTypeFocused(text string) chromedp.Action[chromedp.Void] {
	return chromedp.KeyEvent(text)
}

// chromedpSetValue selects a value in a <select> and fires its change event.
func chromedpSetValue(sel, value string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => { const s = document.querySelector(%q); s.value = %q; s.dispatchEvent(new Event("change")); })()`, sel, value))
}

// eval evaluates a JavaScript expression (awaiting promises) into T.
func eval[T any](p *page, expr string) T {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		p.fail("evaluate "+expr, err)
	}
	return v
}

// click clicks the element with real mouse events.
func (p *page) click(sel string) {
	p.t.Helper()
	// A view redrawn between finding the element and clicking it replaces the node:
	// find it again.
	var err error
	for range 3 {
		if _, err = chromedp.Run(p.ctx, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible)); err == nil {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	p.fail("click "+sel, err)
}

// typeText types text into the element as keyboard input.
func (p *page) typeText(sel, text string) {
	p.t.Helper()
	p.do(fmt.Sprintf("type into %s", sel), chromedp.SendKeys(chromedp.CSS(sel), text, chromedp.NodeVisible))
}

// screenshot saves a PNG of the whole page under artifacts(t) and returns its path.
func (p *page) screenshot(name string) string {
	p.t.Helper()
	png, err := chromedp.Run(p.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		p.fail("screenshot", err)
	}
	if len(png) < 8 || string(png[1:4]) != "PNG" {
		p.t.Fatalf("screenshot %s is not a PNG", name)
	}
	path := filepath.Join(artifacts(p.t), name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		p.t.Fatal(err)
	}
	return path
}

func artifacts(t *testing.T) string {
	dir := os.Getenv("GRIDD_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
