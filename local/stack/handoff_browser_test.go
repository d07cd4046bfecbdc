package stack

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/ragchat/ragchat/internal/browsertest"
)

// TestStack_BrowserHandoffCustomerAndAgentTalk: a customer on the chat page
// and an agent on the console, in two browser contexts at once, go through
// the handoff story by clicking and typing: the bot answers, the customer
// asks for a person, the agent finds the room in the queue, claims it,
// they talk both ways (Korean intact, the agent named), the agent hands
// the room back and the bot answers again, on both pages.
func TestStack_BrowserHandoffCustomerAndAgentTalk(t *testing.T) {
	st := sharedStack(t)
	customer := browsertest.Chromium(t, 1000, 800)
	agent, cancel := chromedp.NewContext(customer, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	customerErrs := browsertest.Exceptions(customer)
	agentErrs := browsertest.Exceptions(agent)

	browsertest.Login(t, customer, st.URLs.HTTP, "apt001", "lee02", "1234")
	browsertest.Ask(t, customer, "관리비는 언제까지 내야 하나요?")
	browsertest.Do(t, customer, "the bot answers",
		chromedp.WaitReady(chromedp.CSS(`li.bot[data-message-id][data-state="done"]`)))
	room := browsertest.Evaluate[string](t, customer, `JSON.parse(sessionStorage.getItem("ragchat.session")).roomId`)

	browsertest.Do(t, customer, "ask for a person",
		chromedp.Click(chromedp.CSS("#handoff")),
		chromedp.WaitVisible(chromedp.CSS(`li.system`)),
	)
	if got := browsertest.TextContent(t, customer, "li.system .text"); !strings.Contains(got, "상담원 연결을 요청했습니다") {
		t.Fatalf("system message after the handoff: %q", got)
	}

	browsertest.Do(t, agent, "the agent logs in on the console",
		chromedp.Navigate(st.URLs.HTTP+"/agent"),
		chromedp.WaitVisible(chromedp.CSS("#login-form")),
		chromedp.Clear(chromedp.CSS("#company")),
		chromedp.SendKeys(chromedp.CSS("#company"), "apt001"),
		chromedp.SendKeys(chromedp.CSS("#user"), "agent1"),
		chromedp.SendKeys(chromedp.CSS("#password"), "1234"),
		chromedp.Click(chromedp.CSS("#login-submit")),
		chromedp.WaitVisible(chromedp.CSS("#console-view")),
	)
	item := `.room-item[data-room-id="` + room + `"]`
	browsertest.Do(t, agent, "the room waits in the queue; open it and claim it",
		chromedp.WaitVisible(chromedp.CSS(item)),
		chromedp.Click(chromedp.CSS(item)),
		chromedp.WaitVisible(chromedp.CSS(`#messages li.customer`)),
		chromedp.WaitVisible(chromedp.CSS(`#messages li.bot[data-state="done"]`)),
		chromedp.WaitReady(chromedp.CSS(`#status[data-state="open"]`)),
		chromedp.Click(chromedp.CSS("#claim")),
		chromedp.WaitVisible(chromedp.CSS("#release")),
	)
	browsertest.Do(t, customer, "the customer sees the agent join",
		chromedp.WaitReady(chromedp.CSS(`li.system:nth-of-type(n) .text`)),
		chromedp.Poll[chromedp.Void](`document.getElementById("handoff").textContent === "상담원: 상담원-01"`),
	)

	hello := "안녕하세요, 상담원-01입니다.\n무엇을 도와드릴까요?"
	browsertest.Do(t, agent, "the agent writes",
		chromedp.WaitEnabled(chromedp.CSS("#input")),
		chromedp.SendKeys(chromedp.CSS("#input"), "안녕하세요, 상담원-01입니다."),
		chromedp.Evaluate[chromedp.Void](`(() => { const i = document.getElementById("input"); i.value += "\n무엇을 도와드릴까요?"; })()`),
		browsertest.PressEnter(),
	)
	browsertest.Do(t, customer, "the customer reads it, named",
		chromedp.WaitVisible(chromedp.CSS(`li.agent .text`)))
	if got := browsertest.TextContent(t, customer, "li.agent .text"); got != hello {
		t.Fatalf("the agent's message on the chat page: %q, want %q", got, hello)
	}
	if got := browsertest.TextContent(t, customer, "li.agent .sender"); got != "상담원-01" {
		t.Fatalf("the agent's name on the chat page: %q", got)
	}

	thanks := "네, 관리비를 두 번 낸 것 같아요."
	browsertest.Ask(t, customer, thanks)
	browsertest.Do(t, agent, "the agent reads the customer",
		chromedp.Poll[chromedp.Void](`[...document.querySelectorAll("#messages li.customer .text")].some((e) => e.textContent === `+jsString(thanks)+`)`))

	browsertest.Do(t, agent, "the agent hands the room back to the bot",
		chromedp.Click(chromedp.CSS("#release")),
		chromedp.WaitVisible(chromedp.CSS("#claim")),
	)
	browsertest.Do(t, customer, "the customer sees the bot back",
		chromedp.Poll[chromedp.Void](`document.getElementById("handoff").textContent === "상담원 연결" && !document.getElementById("handoff").disabled`))
	browsertest.Ask(t, customer, "방문 차량은 어떻게 등록하나요?")
	browsertest.Do(t, customer, "the bot answers again",
		chromedp.Poll[chromedp.Void](`document.querySelectorAll('li.bot[data-message-id][data-state="done"]').length === 2`))
	browsertest.Do(t, agent, "the console shows the bot's streamed answer too",
		chromedp.Poll[chromedp.Void](`document.querySelectorAll('#messages li.bot[data-state="done"]').length === 2`))

	for name, errs := range map[string]func() []string{"chat page": customerErrs, "console": agentErrs} {
		if e := errs(); len(e) > 0 {
			t.Errorf("%s threw: %v", name, e)
		}
	}
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	return "`" + strings.NewReplacer("`", "\\`", "\\", "\\\\", "${", "\\${").Replace(s) + "`"
}
