// Package browsertest drives the chat page (local/web) in a headless
// Chromium from Go tests, with chromedp: start a browser, run steps under a
// deadlock guard, read text, evaluate JavaScript, log in through the page's
// form, ask a question and collect the page's uncaught exceptions.
//
// Chromium comes from the PATH (Debian's chromium package); a test that asks
// for a browser on a machine without one is skipped, not failed.
package browsertest

import (
	"context"
	"fmt"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// StepTimeout guards each browser step against a deadlock; it is not a
// performance bound.
const StepTimeout = 30 * time.Second

// browsers are the names Chromium goes by on PATH, in order of preference.
var browsers = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}

// Chromium starts a headless Chromium with a width x height viewport, a
// fresh profile and Korean as its language, and returns the context of its
// first tab for chromedp. The browser is stopped when the test ends. The
// test is skipped in -short mode and when no Chromium is on PATH, and fails
// when it does not start.
func Chromium(t testing.TB, width, height int) context.Context {
	t.Helper()
	if testing.Short() {
		t.Skip("browser test: not in -short mode")
	}
	var path string
	for _, name := range browsers {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		t.Skip("no Chromium on PATH (apt-get install chromium): skipping the browser test")
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("lang", "ko-KR"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(width, height),
	)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(int64(width), int64(height))); err != nil {
		t.Fatalf("start Chromium %s: %v", path, err)
	}
	return ctx
}

// Do runs browser steps in order under StepTimeout and fails the test,
// naming the steps with what, when one of them fails.
func Do(t testing.TB, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, StepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// TextContent returns the DOM textContent of the first element matching the
// CSS selector sel (waiting for it under StepTimeout): the text as the page
// set it, newlines included, whatever the CSS shows.
func TextContent(t testing.TB, ctx context.Context, sel string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, StepTimeout)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

// Evaluate returns the value of the JavaScript expression in the page,
// decoded from JSON into a T, under StepTimeout.
func Evaluate[T any](t testing.TB, ctx context.Context, expression string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, StepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expression))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expression, err)
	}
	return v
}

// Exceptions starts collecting the uncaught exceptions of the page in ctx
// and returns a function that reports those seen so far (a copy). Call it
// before loading the page; collection ends with ctx.
func Exceptions(ctx context.Context) func() []string {
	var mu sync.Mutex
	var out []string
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			if m.IsException() {
				mu.Lock()
				out = append(out, m.String())
				mu.Unlock()
			}
		}
	}()
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), out...)
	}
}

// SubmitLogin opens the chat page at pageURL, types company, user and
// password into its login form and submits it, without waiting for the
// outcome.
func SubmitLogin(t testing.TB, ctx context.Context, pageURL, company, user, password string) {
	t.Helper()
	Do(t, ctx, "submit the login form",
		chromedp.Navigate(pageURL),
		chromedp.WaitVisible(chromedp.CSS("#login-form")),
		chromedp.Clear(chromedp.CSS("#company")),
		chromedp.SendKeys(chromedp.CSS("#company"), company),
		chromedp.SendKeys(chromedp.CSS("#user"), user),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS("#login-submit")),
	)
}

// Login logs in through the chat page's form (SubmitLogin) and waits until
// the chat view shows and its WebSocket is open.
func Login(t testing.TB, ctx context.Context, pageURL, company, user, password string) {
	t.Helper()
	SubmitLogin(t, ctx, pageURL, company, user, password)
	Do(t, ctx, "log in as "+company+"/"+user,
		chromedp.WaitVisible(chromedp.CSS("#chat-view")),
		chromedp.WaitReady(chromedp.CSS(`#status[data-state="open"]`)),
	)
}

// PressEnter presses and releases Enter as a keyboard does: a keyDown that
// carries the text, so that preventDefault on it stops the newline.
// (chromedp.SendKeys sends the newline as a separate char event.)
func PressEnter() chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		down := input.DispatchKeyEventParams{Type: kb.KeyDown, Key: "Enter", Code: "Enter", Text: "\r",
			UnmodifiedText: "\r", WindowsVirtualKeyCode: 13, NativeVirtualKeyCode: 13}
		up := down
		up.Type, up.Text, up.UnmodifiedText = kb.KeyUp, "", ""
		for _, ev := range []input.DispatchKeyEventParams{down, up} {
			if _, err := cdp.Call(ctx, t, input.DispatchKeyEvent, ev); err != nil {
				return fmt.Errorf("dispatch %s Enter: %w", ev.Type, err)
			}
		}
		return nil
	})
}

// Ask waits for the chat page's WebSocket to be open, types question into
// its input and sends it with Enter, then waits until the input is empty
// again (the page took the question). It does not wait for the answer.
func Ask(t testing.TB, ctx context.Context, question string) {
	t.Helper()
	Do(t, ctx, "ask "+question,
		chromedp.WaitReady(chromedp.CSS(`#status[data-state="open"]`)),
		chromedp.SendKeys(chromedp.CSS("#input"), question),
		PressEnter(),
		chromedp.WaitReady(chromedp.CSS(`#input:placeholder-shown`)),
	)
}
