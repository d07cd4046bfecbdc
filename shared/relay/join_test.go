package relay_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/ragchat/ragchat/internal/wsclient"
	"github.com/ragchat/ragchat/shared/relay"
	"github.com/ragchat/ragchat/shared/relay/relaytest"
)

func TestRelay_NewcomerGetsSeq1WithTheTextSoFarThenTheSameAnswer(t *testing.T) {
	e := relaytest.NewEndpoint(t)
	e.Open("caller", "late")
	s := newRelay(e, &deleter{}, relay.Options{}).Start(context.Background(), answerID, []string{"caller"})
	half := len(traceDeltas) / 2
	for _, d := range traceDeltas[:half] {
		s.Delta(d)
	}
	sofar := s.Text()
	first := make(chan []byte, 1)
	e.SetHook(func(id string, frame []byte) {
		if id == "late" {
			select {
			case first <- frame:
			default:
			}
		}
	})
	s.Add([]string{"late", "caller"}, nil) // the caller is not added twice
	f := <-first                           // posted before any more text arrives
	for _, d := range traceDeltas[half:] {
		s.Delta(d)
	}
	s.Complete()
	res := s.Wait()

	fs, err := wsclient.Envelope(f)
	if err != nil {
		t.Fatal(err)
	}
	if fs.Seq != 1 || fs.Delta != sofar {
		t.Fatalf("newcomer's first frame %s: want seq 1 with the text so far %q", f, sofar)
	}
	want := strings.Join(traceDeltas, "")
	for _, id := range []string{"caller", "late"} {
		tr := transcript(t, e, id)
		if tr.Text != want || tr.Terminal.Type != relay.TypeComplete {
			t.Errorf("%s: text %q ending %s, want the whole answer, complete", id, tr.Text, tr.Terminal.Type)
		}
	}
	if s.Recipients() != 2 || len(res.Gone)+len(res.Failed) != 0 {
		t.Errorf("recipients %d, result %+v: want 2, every post accepted", s.Recipients(), res)
	}
}

func TestRelay_NewcomerAfterTheEndGetsTheWholeAnswerAndItsEnding(t *testing.T) {
	e := relaytest.NewEndpoint(t)
	e.Open("caller", "late")
	s := newRelay(e, &deleter{}, relay.Options{}).Start(context.Background(), answerID, []string{"caller"})
	s.Delta("부분 답")
	s.Fail("RAG_TIMEOUT", "too slow")
	s.Add([]string{"late"}, nil)
	s.Wait()
	tr := transcript(t, e, "late")
	if tr.Text != "부분 답" || tr.Terminal.Code != "RAG_TIMEOUT" {
		t.Fatalf("late: %q ending %+v, want the partial answer then RAG_TIMEOUT", tr.Text, tr.Terminal)
	}
}

func TestRelay_LeadFrameComesBeforeTheAnswerAndOnlyToThoseAddedWithIt(t *testing.T) {
	e := relaytest.NewEndpoint(t)
	e.Open("caller", "peer")
	lead, err := relay.MessageFrame(relay.Message{SessionID: answerID.SessionID, MessageID: "m-q", Role: "user", Text: "질문", CreatedAt: 1})
	if err != nil {
		t.Fatal(err)
	}
	s := newRelay(e, &deleter{}, relay.Options{}).Start(context.Background(), answerID, []string{"caller"})
	s.Add([]string{"peer"}, lead)
	s.Delta("답")
	s.Complete()
	s.Wait()
	peer := e.Frames("peer")
	if len(peer) < 2 || string(peer[0]) != string(lead) {
		t.Fatalf("peer frames %q: want the lead frame first", peer)
	}
	if _, err := wsclient.Check(peer[1:]); err != nil {
		t.Fatalf("peer's answer frames: %v", err)
	}
	if tr := transcript(t, e, "caller"); tr.Text != "답" {
		t.Fatalf("caller got %q (a lead frame is not echoed to the caller)", tr.Text)
	}
}

func TestRelay_AnswerFramesCarryTheClientMessageID(t *testing.T) {
	e := relaytest.NewEndpoint(t)
	e.Open("c1")
	a := answerID
	a.ClientMessageID = "c-7f3a"
	s := newRelay(e, &deleter{}, relay.Options{}).Start(context.Background(), a, []string{"c1"})
	s.Delta("a")
	s.Fail("RAG_UNAVAILABLE", "down")
	s.Wait()
	frames := e.Frames("c1")
	trs, err := wsclient.Check(frames)
	if err != nil || len(trs) != 1 {
		t.Fatalf("%d answers, %v", len(trs), err)
	}
	for _, f := range trs[0].Frames {
		if f.ClientMessageID != "c-7f3a" {
			t.Fatalf("frames %q: want clientMessageId on every frame", frames)
		}
	}
}

func TestRelay_PostSendsOneFrameToEveryConnectionWithTheFailureRules(t *testing.T) {
	e := relaytest.NewEndpoint(t)
	e.Open("a", "b", "flaky")
	e.Script("flaky", relaytest.InternalError, relaytest.LimitExceeded)
	d := &deleter{}
	frame := []byte(`{"type":"status","sessionId":"room-1","status":"AGENT"}`)
	res := newRelay(e, d, relay.Options{}).Post(context.Background(), "status", frame, []string{"a", "gone", "b", "a", "flaky"})
	for _, id := range []string{"a", "b", "flaky"} {
		if got := e.Frames(id); len(got) != 1 || string(got[0]) != string(frame) {
			t.Errorf("%s received %q, want the frame once", id, got)
		}
	}
	if !slices.Equal(res.Gone, []string{"gone"}) || !slices.Equal(d.deleted(), []string{"gone"}) {
		t.Errorf("gone %v, deleted %v: want [gone]", res.Gone, d.deleted())
	}
	if res.Frames != 3 || res.Posts != 6 {
		t.Errorf("result %+v: want 3 frames accepted in 6 posts (1 each, 1 to the gone one, 2 retries)", res)
	}
}

func TestMessageFrame_IsDesignsShapeWithTextUnescaped(t *testing.T) {
	text := "관리비는 <언제> 내나요? \"따옴표\"\n"
	frame, err := relay.MessageFrame(relay.Message{
		SessionID: "room-d2dc543d", MessageID: "m-1", Role: "user", Text: text,
		UserName: "고객-275b", ClientMessageID: "c-1", CreatedAt: 1769145304307,
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"type":"message","sessionId":"room-d2dc543d","messageId":"m-1","role":"user","text":"관리비는 <언제> 내나요? \"따옴표\"\n","userName":"고객-275b","clientMessageId":"c-1","createdAt":1769145304307}`
	if string(frame) != want {
		t.Fatalf("frame\n%s\nwant\n%s", frame, want)
	}
	var back struct{ Text string }
	if err := json.Unmarshal(frame, &back); err != nil || back.Text != text {
		t.Fatalf("text decodes to %q (%v), want %q", back.Text, err, text)
	}
	if _, err := relay.MessageFrame(relay.Message{Text: strings.Repeat("x", relay.MaxFrameBytes)}); err == nil {
		t.Fatal("an oversize message frame was built")
	}
}
