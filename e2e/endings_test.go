package e2e

import (
	"strings"
	"sync"
	"testing"

	"github.com/ragchat/ragchat/local/wsapi"
)

// Every answer ends, on time, under @connections faults (the relay rules
// of DESIGN.md), through the local stack's PUT /{stage}/@faults switch.

// checkRepaired asserts what a client that repairs from complete.answer
// holds: the complete frame repeats the answer (it fits) and it equals the
// stored one byte for byte.
func (hr *harness) checkRepaired(t testing.TB, room, question string, a answer) {
	t.Helper()
	hr.checkAnswered(t, room, question, a)
	if a.Terminal.Answer == nil || *a.Terminal.Answer != a.Text {
		t.Errorf("complete frame of %s does not repeat the answer", a.MessageID)
	}
}

func TestEndings_A429StormOf40PostsStillEndsTheAnswerWhole(t *testing.T) {
	cu := h.newCustomer(t, "apt001")
	c := h.dial(t, cu.Token, cu.Room)
	before := h.st.WS.Stats()
	h.setWSFaults(t, wsapi.Faults{Status: 429, Count: 40})
	a := c.ask(t, qFee)
	h.checkRepaired(t, cu.Room, qFee, a)
	if injected := h.st.WS.Stats().Injected - before.Injected; injected != 40 {
		t.Fatalf("%d 429s injected, want 40", injected)
	}
	h.out.waitFor(t, `"answered"`, quoted(a.MessageID), `"throttled":40`, `"failed":0`)
	h.finish(t, c)
}

func TestEndings_A30Percent429RateOver20ConcurrentAnswersEndsEveryOneOnce(t *testing.T) {
	const n = 20
	clients := make([]*client, n)
	rooms := make([]string, n)
	for i := range n {
		cu := h.newCustomer(t, "apt001")
		clients[i], rooms[i] = h.dial(t, cu.Token, cu.Room), cu.Room
	}
	before := h.st.WS.Stats()
	h.setWSFaults(t, wsapi.Faults{Status: 429, Rate: 0.3})
	answers := make([]answer, n)
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Go(func() { answers[i] = c.ask(t, qRecycle) })
	}
	wg.Wait()
	injected := h.st.WS.Stats().Injected - before.Injected
	must(t, h.st.WS.SetFaults(wsapi.Faults{}))
	for i, c := range clients {
		h.checkRepaired(t, rooms[i], qRecycle, answers[i])
		h.checkNoExtraFrames(t, c) // exactly one terminal frame: nothing after it
	}
	if injected == 0 {
		t.Fatal("no 429 injected")
	}
	t.Logf("%d answers ended whole through %d injected 429s", n, injected)
	h.finish(t, clients[0], clients[1:]...)
}

func TestEndings_A403BurstSkipsTheSocketForTheAnswerButKeepsIt(t *testing.T) {
	cu := h.newCustomer(t, "apt001")
	c := h.dial(t, cu.Token, cu.Room)
	h.setWSFaults(t, wsapi.Faults{Status: 403, Count: 1})
	c.sendQuestion(t, qFee)
	var msgs []storedMessage
	eventually(t, "the answer stored", func() bool {
		msgs = h.history(t, cu.Room)
		return len(msgs) == 2 && msgs[1].Outcome != "streaming"
	})
	if b := msgs[1]; b.Role != "bot" || b.Outcome != "complete" || b.Text != h.rag.lastAnswer(t, cu.Room).Answer {
		t.Fatalf("stored answer %+v, want the whole answer, complete", b)
	}
	h.out.waitFor(t, `"answered"`, quoted(msgs[1].MessageID), `"forbidden":1`)
	h.out.waitFor(t, `"level":"ERROR"`, "403", "CALLBACK_URL")
	if n := c.queued(); n != 0 || c.typedFrames() != 0 {
		t.Fatalf("the refused socket got %d frames of the answer", n+c.typedFrames())
	}
	if !h.connectionItem(t, c.ID) {
		t.Fatal("a 403 deleted the connection")
	}
	h.finish(t, c) // the next question on the same socket is answered whole
}

func TestEndings_PostsSlowerThanPostTimeoutAreAbandonedAndRetried(t *testing.T) {
	cu := h.newCustomer(t, "apt001")
	c := h.dial(t, cu.Token, cu.Room)
	before := h.st.WS.Stats()
	// POST_TIMEOUT is the template's 3 s: every attempt meanwhile is given
	// up by the relay before @connections answers (nothing is delivered).
	h.setWSFaults(t, wsapi.Faults{LatencyMs: 3500})
	c.sendQuestion(t, qParking)
	eventually(t, "an attempt abandoned and retried", func() bool {
		return h.st.WS.Stats().Posts-before.Posts >= 2
	})
	must(t, h.st.WS.SetFaults(wsapi.Faults{}))
	a := c.readAnswer(t)
	h.checkRepaired(t, cu.Room, qParking, a)
	if d := h.st.WS.Stats().Delivered - before.Delivered; d != int64(a.Frames) {
		t.Fatalf("%d frames delivered, %d read: an abandoned post was delivered", d, a.Frames)
	}
	if line := h.out.waitFor(t, `"answered"`, quoted(a.MessageID)); !strings.Contains(line, `"failed":0`) {
		t.Fatalf("answered line %s: want no socket given up", line)
	}
	h.finish(t, c)
}
