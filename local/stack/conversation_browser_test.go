package stack

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/ragchat/ragchat/internal/browsertest"
)

// TestStack_BrowserReloadMidAnswerAndASecondDevice: a customer on two
// browser contexts (two devices) in one room. The question asked on the
// first appears on the second with its answer streaming; the first page
// is reloaded in the middle of the answer and finishes it on screen, the
// history above it intact; both show exactly the dev RAG server's answer.
func TestStack_BrowserReloadMidAnswerAndASecondDevice(t *testing.T) {
	st := sharedStack(t)
	const question = "분리수거는 언제 어디에 하나요?"
	first := browsertest.Chromium(t, 1000, 800)
	second, cancel := chromedp.NewContext(first, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	firstErrs, secondErrs := browsertest.Exceptions(first), browsertest.Exceptions(second)

	browsertest.Login(t, first, st.URLs.HTTP, "apt001", "kim01", "1234")
	browsertest.Ask(t, first, "관리비는 언제까지 내야 하나요?") // the history above
	browsertest.Do(t, first, "the first answer", chromedp.WaitReady(chromedp.CSS(`li.bot[data-message-id][data-state="done"]`)))
	room := browsertest.Evaluate[string](t, first, `JSON.parse(sessionStorage.getItem("ragchat.session")).roomId`)
	browsertest.Login(t, second, st.URLs.HTTP, "apt001", "kim01", "1234") // the latest room: the same
	if r := browsertest.Evaluate[string](t, second, `JSON.parse(sessionStorage.getItem("ragchat.session")).roomId`); r != room {
		t.Fatalf("the second device is in room %s, the first in %s", r, room)
	}
	browsertest.Do(t, second, "the second device shows the history",
		chromedp.WaitReady(chromedp.CSS(`#status[data-state="open"]`)),
		chromedp.WaitReady(chromedp.CSS(`li.bot[data-message-id][data-state="done"]`)))

	browsertest.Ask(t, first, question+" #fault=slow:150ms")
	browsertest.Do(t, first, "the answer streams",
		chromedp.Poll[chromedp.Void](`[...document.querySelectorAll("li.bot[data-state=streaming] .text")].some((e) => e.textContent.length > 0)`))
	browsertest.Do(t, first, "reload in the middle of the answer",
		chromedp.Reload(),
		chromedp.WaitReady(chromedp.CSS(`#status[data-state="open"]`)),
		chromedp.Poll[chromedp.Void](`document.querySelectorAll("li.bot[data-message-id][data-state=done]").length === 2`),
	)
	browsertest.Do(t, second, "the second device sees the question and the answer",
		chromedp.Poll[chromedp.Void](`document.querySelectorAll("li.user").length === 2 && document.querySelectorAll("li.bot[data-message-id][data-state=done]").length === 2`))

	turns := st.RAG.History(room)
	if len(turns) != 2 {
		t.Fatalf("dev RAG turns %+v, want two questions asked once each", turns)
	}
	want := turns[1].Answer
	check := func(name string, shown []string, users []string) {
		t.Helper()
		if len(shown) != 2 || shown[1] != want || shown[0] != turns[0].Answer {
			t.Errorf("%s device shows answers %q, want %q then %q", name, shown, turns[0].Answer, want)
		}
		if len(users) != 2 || !strings.HasPrefix(users[1], question) {
			t.Errorf("%s device shows questions %q", name, users)
		}
	}
	const answersJS = `[...document.querySelectorAll("li.bot[data-message-id] .text")].map((e) => e.textContent)`
	const questionsJS = `[...document.querySelectorAll("li.user .text")].map((e) => e.textContent)`
	check("first", browsertest.Evaluate[[]string](t, first, answersJS), browsertest.Evaluate[[]string](t, first, questionsJS))
	check("second", browsertest.Evaluate[[]string](t, second, answersJS), browsertest.Evaluate[[]string](t, second, questionsJS))
	if e := append(firstErrs(), secondErrs()...); len(e) > 0 {
		t.Errorf("page exceptions: %v", e)
	}
}
