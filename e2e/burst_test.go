package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/ragchat/ragchat/internal/wsclient"
)

// The per-user question bucket through real processes, with the stack's
// default limits (burst 30, refilled 10 a minute: one every 6 s).
const (
	questionBurst  = 30
	questionRefill = 6 * time.Second
)

// maxAsked is the most questions the bucket lets through in a burst that
// took elapsed: the burst and a token per refill that may have fallen in
// it (rounded up). Computed from the measured time, it only loosens on a
// slow machine; a burst that takes under 6 s allows 31.
func maxAsked(elapsed time.Duration) int {
	return questionBurst + int(elapsed/questionRefill) + 1
}

// burstEndings reads frames until n answers have ended, through the client
// rules (wsclient.Answers: seq without gaps, exactly one complete or
// error per answer, nothing of an answer after its ending), and returns
// the answers by clientMessageId. A question with two endings, or an
// answer of no question sent, fails the test.
func burstEndings(t *testing.T, c *client, n int) map[string]*wsclient.Answer {
	t.Helper()
	var as wsclient.Answers
	byID := map[string]*wsclient.Answer{}
	for len(byID) < n {
		f := c.nextTyped(t)
		a, err := as.Add(f)
		switch {
		case err != nil:
			t.Fatalf("frame %s: %v", redactFrame(f), err)
		case a == nil || !a.Ended():
			continue
		case byID[a.ClientMessageID] != nil:
			t.Fatalf("question %q got a second ending: %s", a.ClientMessageID, redactFrame(*a.Terminal))
		}
		byID[a.ClientMessageID] = a
	}
	return byID
}

// checkBurst checks that every one of the n questions burst-00.. got one
// ending, of the kinds allowed, and returns the count of each kind.
func checkBurst(t *testing.T, endings map[string]*wsclient.Answer, n int, allowed ...string) map[string]int {
	t.Helper()
	kinds := map[string]int{}
	for i := range n {
		a := endings[fmt.Sprintf("burst-%02d", i)]
		if a == nil {
			t.Fatalf("question burst-%02d got no ending; endings of %d questions", i, len(endings))
		}
		kind := a.Terminal.Type
		if kind == wsclient.TypeError {
			kind = a.Terminal.Code
		}
		ok := false
		for _, k := range allowed {
			ok = ok || k == kind
		}
		if !ok {
			t.Fatalf("question burst-%02d ended with %s, want one of %v", i, redactFrame(*a.Terminal), allowed)
		}
		kinds[kind]++
	}
	return kinds
}

// The burst goes one question after the previous one's ending: the room
// holds one answer at a time, and a question sent after the previous
// ending arrived is never refused as in progress (DESIGN), so every
// refusal here is the bucket's. Sent all at once, nearly every question
// would meet the first answer still streaming and get ANSWER_IN_PROGRESS,
// which says nothing of the bucket (that case is the next test's).
func TestLimits_ABurstOf60QuestionsOneAfterTheOtherAsksAtMostTheBucketsBurst(t *testing.T) {
	cu := h.newCustomer(t, "apt001")
	c := h.dial(t, cu.Token, cu.Room)
	const n = 60
	start := time.Now()
	endings := map[string]*wsclient.Answer{}
	for i := range n {
		id := fmt.Sprintf("burst-%02d", i)
		c.sendQuestionWithID(t, qFee, id)
		for k, a := range burstEndings(t, c, 1) {
			if k != id {
				t.Fatalf("question %s: an ending of %q came instead", id, k)
			}
			endings[k] = a
		}
	}
	elapsed := time.Since(start)
	kinds := checkBurst(t, endings, n, wsclient.TypeComplete, "RATE_LIMITED")
	asked := len(h.rag.rag.History(cu.Room))
	t.Logf("%d questions in %v: %v, the RAG service asked %d times", n, elapsed, kinds, asked)
	if asked != kinds[wsclient.TypeComplete] || asked < questionBurst || asked > maxAsked(elapsed) {
		t.Fatalf("the RAG service was asked %d times for %d answers; want the burst, %d, and at most %d in %v",
			asked, kinds[wsclient.TypeComplete], questionBurst, maxAsked(elapsed), elapsed)
	}
	roles := map[string]int{}
	for _, m := range h.history(t, cu.Room) { // the repeat records of the clientMessageIds too, without a role
		roles[m.Role]++
	}
	if roles["user"] != asked || roles["bot"] != asked {
		t.Fatalf("the history holds %v, want the %d questions asked and their answers only", roles, asked)
	}
}

// All at once: the questions race for the room's one answer slot and the
// user's bucket; whichever wins, the bucket still bounds what is asked and
// every question still ends exactly once.
func TestLimits_ABurstOf60QuestionsAtOnceGetsOneEndingEach(t *testing.T) {
	cu := h.newCustomer(t, "apt001")
	c := h.dial(t, cu.Token, cu.Room)
	const n = 60
	start := time.Now()
	for i := range n {
		c.sendQuestionWithID(t, qFee, fmt.Sprintf("burst-%02d", i))
	}
	endings := burstEndings(t, c, n)
	elapsed := time.Since(start)
	kinds := checkBurst(t, endings, n, wsclient.TypeComplete, "RATE_LIMITED", "ANSWER_IN_PROGRESS")
	asked := len(h.rag.rag.History(cu.Room))
	t.Logf("%d questions at once in %v: %v, the RAG service asked %d times", n, elapsed, kinds, asked)
	if asked != kinds[wsclient.TypeComplete] || asked < 1 || asked > maxAsked(elapsed) {
		t.Fatalf("the RAG service was asked %d times for %d answers; want 1 to %d", asked, kinds[wsclient.TypeComplete], maxAsked(elapsed))
	}
	// Every question took a token, whatever became of it.
	if kinds["RATE_LIMITED"] < n-maxAsked(elapsed) {
		t.Fatalf("%d RATE_LIMITED of %d questions, want at least %d", kinds["RATE_LIMITED"], n, n-maxAsked(elapsed))
	}
}
