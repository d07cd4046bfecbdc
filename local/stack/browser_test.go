package stack

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/ragchat/ragchat/internal/browsertest"
	"github.com/ragchat/ragchat/shared/store"
)

// recordAnswerStatesJS makes the page remember every state and text an
// answer bubble shows, in order, in window.answerStates.
const recordAnswerStatesJS = `(() => {
	window.answerStates = [];
	const seen = window.answerStates;
	const record = () => {
		for (const li of document.querySelectorAll("li.bot[data-message-id]")) {
			const s = { state: li.dataset.state, text: li.querySelector(".text").textContent };
			const last = seen[seen.length - 1];
			if (!last || last.state !== s.state || last.text !== s.text) seen.push(s);
		}
	};
	new MutationObserver(record).observe(document.getElementById("messages"),
		{ subtree: true, childList: true, characterData: true, attributes: true });
	return true;
})()`

type answerState struct {
	State string `json:"state"`
	Text  string `json:"text"`
}

func TestStack_BrowserLogsInAndSeesTheStreamedKoreanAnswer(t *testing.T) {
	st := sharedStack(t)
	const question = "관리비는 언제까지 내야 하나요?"
	ctx := browsertest.Chromium(t, 1000, 800)
	errs := browsertest.Exceptions(ctx)

	browsertest.Login(t, ctx, st.URLs.HTTP, "apt001", "hong2", "1234")
	if got := browsertest.TextContent(t, ctx, "#who"); got != "고객-275b · apt001" {
		t.Errorf("chat header %q, want the user's name and company", got)
	}
	browsertest.Evaluate[bool](t, ctx, recordAnswerStatesJS)
	browsertest.Ask(t, ctx, question)
	browsertest.Do(t, ctx, "wait for the answer",
		chromedp.WaitReady(chromedp.CSS(`li.bot[data-message-id]:is([data-state="done"], [data-state="error"])`)))
	if state := browsertest.Evaluate[string](t, ctx, `document.querySelector("li.bot[data-message-id]").dataset.state`); state != "done" {
		t.Fatalf("the answer ended in state %s: %q", state, browsertest.TextContent(t, ctx, "li.bot[data-message-id]"))
	}
	shown := browsertest.TextContent(t, ctx, "li.bot[data-message-id] .text")

	ctxDB, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	room, err := store.New(st.DB, st.Tables).LatestRoom(ctxDB, "apt001", "hong2")
	if err != nil {
		t.Fatalf("latest room of hong2: %v", err)
	}
	if pageRoom := browsertest.Evaluate[string](t, ctx, `JSON.parse(sessionStorage.getItem("ragchat.session")).roomId`); pageRoom != room.RoomID {
		t.Fatalf("the page talks in room %q, the latest room of hong2 is %q", pageRoom, room.RoomID)
	}
	turns := st.RAG.History(room.RoomID)
	if len(turns) != 1 || turns[0].Question != question || turns[0].EntryID == "" {
		t.Fatalf("dev RAG turns of room %s: %+v, want one knowledge-base answer to %q", room.RoomID, turns, question)
	}
	// The page sets the bubble's textContent and shows it with
	// white-space: pre-wrap: the text is the answer to the letter, newlines
	// included, with nothing to normalise.
	want := turns[0].Answer
	if shown != want {
		t.Fatalf("the page shows %q, the dev RAG answered %q", shown, want)
	}

	states := browsertest.Evaluate[[]answerState](t, ctx, "window.answerStates")
	streamed, prev := 0, ""
	for i, s := range states {
		switch {
		case s.State == "streaming" && len(s.Text) > len(prev) && strings.HasPrefix(s.Text, prev) && strings.HasPrefix(want, s.Text):
			streamed++
			prev = s.Text
		case s.State == "done" && i == len(states)-1 && s.Text == want:
		default:
			t.Errorf("state %d of the answer is %+v: want growing prefixes of the answer while streaming, then done with all of it", i, s)
		}
	}
	if streamed == 0 {
		t.Errorf("the answer never showed while streaming: states %+v", states)
	}
	t.Logf("the answer (%d runes) showed in %d streaming updates before done", len([]rune(want)), streamed)
	if e := errs(); len(e) > 0 {
		t.Errorf("page exceptions: %v", e)
	}
}
