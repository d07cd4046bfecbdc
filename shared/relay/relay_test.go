package relay_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"

	"github.com/ragchat/ragchat/internal/testkit"
	"github.com/ragchat/ragchat/internal/wsclient"
	"github.com/ragchat/ragchat/shared/relay"
	"github.com/ragchat/ragchat/shared/relay/relaytest"
)

// deleter records the connections the relay deletes.
type deleter struct {
	mu  sync.Mutex
	ids []string
}

func (d *deleter) DeleteConnection(_ context.Context, id string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.ids = append(d.ids, id)
	return nil
}

func (d *deleter) deleted() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.ids)
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// fastRetry keeps retry tests quick without changing what they pin.
var fastRetry = relay.Backoff{Base: time.Millisecond, Max: 4 * time.Millisecond}

func newRelay(e *relaytest.Endpoint, d *deleter, opts relay.Options) *relay.Relay {
	if opts.Backoff.Max == 0 {
		opts.Backoff = fastRetry
	}
	if opts.Logger == nil {
		opts.Logger = quiet
	}
	return relay.New(e.Client(), d, opts)
}

var answerID = relay.Answer{SessionID: "room-d2dc543d", MessageID: "m-0123456789abcdef"}

// traceDeltas are the deltas of the seed trace's answer.
var traceDeltas = []string{"", "책", " 재", "료", " 생산", "과", " 관련된", " 자세", "한", " 정보", "는", " 현재",
	" 확인", "이", " 어려운", " 점", " 양", "해", " 부탁", "드립니다", ".", " 보다", " 정확", "한", " 안내", "를",
	" 위해", " 고객", "센터", "([", "고", "객", "센터", " 연락", "처", "])", " 또는", " 관련", " 부", "서", "([",
	"담당", " 부", "서", " 연락", "처", "])", "로", " 문의", "해주", "시면", " 감사", "하겠습니다", ".", "\n"}

// transcript checks the client contract on what id received and returns
// its one answer, which must have ended and arrived without repeats.
func transcript(t *testing.T, e *relaytest.Endpoint, id string) *wsclient.Answer {
	t.Helper()
	answers, err := wsclient.Check(e.Frames(id))
	if err != nil {
		t.Fatalf("connection %s: %v", id, err)
	}
	if len(answers) != 1 {
		t.Fatalf("connection %s: %d answers, want 1", id, len(answers))
	}
	tr := answers[0]
	if !tr.Ended() || tr.Duplicates != 0 {
		t.Fatalf("connection %s: %d frames, ended %v, %d repeated", id, len(tr.Frames), tr.Ended(), tr.Duplicates)
	}
	for _, f := range tr.Frames {
		if f.SessionID != answerID.SessionID || f.MessageID != answerID.MessageID {
			t.Fatalf("connection %s: frame ids %s/%s, want %s/%s", id, f.SessionID, f.MessageID, answerID.SessionID, answerID.MessageID)
		}
	}
	return tr
}

// answerTrace streams the trace's answer on s, completes it and returns
// its result.
func answerTrace(s *relay.Stream) relay.Result {
	for _, d := range traceDeltas {
		s.Delta(d)
	}
	s.Complete()
	return s.Wait()
}

func TestRelay_DeliversTheAnswerInOrderToEveryRecipient(t *testing.T) {
	for _, interval := range []time.Duration{0, time.Millisecond} {
		t.Run(fmt.Sprint("floor ", interval), func(t *testing.T) {
			e := relaytest.NewEndpoint(t)
			ids := []string{"caller=", "peer-1", "peer-2"}
			e.Open(ids...)
			s := newRelay(e, &deleter{}, relay.Options{MinFrameInterval: interval}).Start(context.Background(), answerID, ids)
			res := answerTrace(s)
			want := strings.Join(traceDeltas, "")
			if s.Text() != want {
				t.Errorf("Text() = %q, want %q", s.Text(), want)
			}
			for _, id := range ids {
				tr := transcript(t, e, id)
				if tr.Text != want || tr.Terminal.Type != relay.TypeComplete {
					t.Errorf("%s got %q ending %s, want %q complete", id, tr.Text, tr.Terminal.Type, want)
				}
				if n := e.MaxInFlight(id); n != 1 {
					t.Errorf("%s had %d posts in flight at once, want 1", id, n)
				}
			}
			if len(res.Gone)+len(res.Failed) != 0 || res.Frames != res.Posts {
				t.Errorf("result %+v: want every post accepted", res)
			}
		})
	}
}

func TestRelay_CoalescesDeltasThatArriveWhileAPostIsInFlight(t *testing.T) {
	e := relaytest.NewEndpoint(t)
	e.Open("c1")
	arrived, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	e.SetHook(func(string, []byte) {
		once.Do(func() { // hold the first post until every delta is in
			close(arrived)
			<-release
		})
	})
	s := newRelay(e, &deleter{}, relay.Options{}).Start(context.Background(), answerID, []string{"c1"})
	s.Delta("첫")
	<-arrived
	var want strings.Builder
	want.WriteString("첫")
	for i := range 200 {
		d := fmt.Sprintf(" 조각%d", i)
		want.WriteString(d)
		s.Delta(d)
	}
	s.Complete()
	close(release)
	res := s.Wait()

	tr := transcript(t, e, "c1")
	if tr.Text != want.String() {
		t.Fatalf("deltas concatenate to %q, want %q", tr.Text, want.String())
	}
	if len(tr.Frames) != 2 || tr.Frames[0].Delta != "첫" || tr.Frames[1].Type != relay.TypeComplete {
		t.Fatalf("frames %+v: want the first delta alone, then one complete frame with the rest", tr.Frames)
	}
	if res.Posts != 2 {
		t.Errorf("%d posts for 201 deltas, want 2", res.Posts)
	}
}

func TestStream_WaitSentAfterEveryDeltaMakesOneFramePerDelta(t *testing.T) {
	e := relaytest.NewEndpoint(t)
	e.Open("caller=", "peer-1")
	e.Script("peer-1", relaytest.InternalError) // its first frame is retried: WaitSent waits for the retry
	d := &deleter{}
	s := newRelay(e, d, relay.Options{}).Start(context.Background(), answerID, []string{"caller=", "peer-1", "gone"})
	var want []string
	for _, delta := range traceDeltas {
		s.Delta(delta)
		s.WaitSent() // a gone recipient does not hold it up
		if delta != "" {
			want = append(want, delta)
		}
	}
	s.Complete()
	s.Wait()
	for _, id := range []string{"caller=", "peer-1"} {
		tr := transcript(t, e, id)
		var got []string
		for _, f := range tr.Frames {
			if f.Type == relay.TypeDelta {
				got = append(got, f.Delta)
			}
		}
		last := tr.Frames[len(tr.Frames)-1]
		if !slices.Equal(got, want) || last.Type != relay.TypeComplete || last.Delta != "" || tr.Text != strings.Join(want, "") {
			t.Errorf("%s got delta frames %q then %s %q; want one frame per delta %q, then an empty complete frame",
				id, got, last.Type, last.Delta, want)
		}
	}
	if !slices.Equal(d.deleted(), []string{"gone"}) {
		t.Errorf("deleted %v, want the gone connection", d.deleted())
	}
}

// firstPost returns a channel closed when e receives its first post.
func firstPost(e *relaytest.Endpoint) <-chan struct{} {
	first := make(chan struct{})
	var once sync.Once
	e.SetHook(func(string, []byte) { once.Do(func() { close(first) }) })
	return first
}

// flooredAfterFirst starts a stream to socket c1 with an hour-long frame
// floor and returns it once the first delta, first, has been posted: every
// delta after it is held by the floor until the stream ends.
func flooredAfterFirst(t *testing.T, first string) (*relaytest.Endpoint, *relay.Stream) {
	t.Helper()
	e := relaytest.NewEndpoint(t)
	e.Open("c1")
	s := newRelay(e, &deleter{}, relay.Options{MinFrameInterval: time.Hour}).Start(context.Background(), answerID, []string{"c1"})
	posted := firstPost(e)
	s.Delta(first)
	<-posted
	return e, s
}

func TestRelay_FloorCoalescesButNeverDelaysTheFirstOrLastFrame(t *testing.T) {
	// An hour-long floor: were the first or last frame held by it, Wait
	// would never return within the test's deadline.
	e, s := flooredAfterFirst(t, "a")
	for range 50 {
		s.Delta("b")
	}
	s.Complete()
	s.Wait()
	tr := transcript(t, e, "c1")
	if len(tr.Frames) != 2 || tr.Text != "a"+strings.Repeat("b", 50) {
		t.Fatalf("frames %+v: want 'a' then everything else in the complete frame", tr.Frames)
	}
}

func TestRelay_SplitsLongKoreanTextIntoFramesWithinTheLimit(t *testing.T) {
	e := relaytest.NewEndpoint(t)
	e.Open("c1", "c2")
	long := strings.Repeat("책은 어떤 재료로 만듭니까? \"따옴표\"\n", 4000) // ~200 KB, escapes included
	s := newRelay(e, &deleter{}, relay.Options{}).Start(context.Background(), answerID, []string{"c1", "c2"})
	s.Delta(long[:1]) // the first delta goes out on its own
	s.Delta(long[1:])
	s.Complete()
	s.Wait()
	for _, id := range []string{"c1", "c2"} {
		frames := e.Frames(id)
		for i, f := range frames {
			if len(f) > relay.MaxFrameBytes {
				t.Fatalf("%s frame %d is %d bytes, over %d", id, i, len(f), relay.MaxFrameBytes)
			}
		}
		tr := transcript(t, e, id)
		if tr.Text != long {
			t.Fatalf("%s: split text differs from the answer", id)
		}
		if len(frames) < 7 {
			t.Errorf("%s: %d frames for %d bytes", id, len(frames), len(long))
		}
		if tr.Terminal.Answer != nil {
			t.Errorf("%s: complete repeats an answer that cannot fit", id)
		}
	}
}

func TestRelay_GoneConnectionIsDeletedAndSkipped(t *testing.T) {
	tests := []struct {
		name  string
		setup func(e *relaytest.Endpoint)
	}{
		{"never connected", func(*relaytest.Endpoint) {}},
		{"410 mid-stream", func(e *relaytest.Endpoint) { e.Open("gone"); e.Script("gone", relaytest.Gone) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := relaytest.NewEndpoint(t)
			e.Open("caller", "peer")
			tt.setup(e)
			d := &deleter{}
			s := newRelay(e, d, relay.Options{}).Start(context.Background(), answerID, []string{"caller", "gone", "peer"})
			res := answerTrace(s)
			if got := d.deleted(); !slices.Equal(got, []string{"gone"}) {
				t.Errorf("deleted %v, want [gone]", got)
			}
			if !slices.Equal(res.Gone, []string{"gone"}) {
				t.Errorf("Result.Gone = %v, want [gone]", res.Gone)
			}
			if n := e.Posts("gone"); n != 1 {
				t.Errorf("%d posts to the gone connection, want 1", n)
			}
			for _, id := range []string{"caller", "peer"} {
				if tr := transcript(t, e, id); tr.Text != strings.Join(traceDeltas, "") {
					t.Errorf("%s got %q", id, tr.Text)
				}
			}
		})
	}
}

func TestRelay_RetriesThrottlingAndServerErrors(t *testing.T) {
	e := relaytest.NewEndpoint(t)
	e.Open("c1", "c2")
	e.Script("c1", relaytest.LimitExceeded, relaytest.TooManyRequests, relaytest.InternalError, relaytest.Unavailable)
	d := &deleter{}
	s := newRelay(e, d, relay.Options{}).Start(context.Background(), answerID, []string{"c1", "c2"})
	res := answerTrace(s)
	for _, id := range []string{"c1", "c2"} {
		if tr := transcript(t, e, id); tr.Text != strings.Join(traceDeltas, "") {
			t.Errorf("%s got %q", id, tr.Text)
		}
	}
	if res.Posts != res.Frames+4 || len(d.deleted()) != 0 || len(res.Failed) != 0 {
		t.Errorf("result %+v, deleted %v: want 4 retried posts and nothing given up", res, d.deleted())
	}
}

func TestRelay_ErrorEndingFlushesThePartialAnswerThenOneErrorFrame(t *testing.T) {
	e, s := flooredAfterFirst(t, "책")
	s.Delta(" 재료") // held by the floor
	s.Fail("RAG_STREAM_INTERRUPTED", "The answer was interrupted.")
	s.Complete() // ignored: the stream already ended
	s.Delta("late")
	s.Wait()
	tr := transcript(t, e, "c1")
	if tr.Text != "책 재료" || tr.Terminal.Type != relay.TypeError || tr.Terminal.Code != "RAG_STREAM_INTERRUPTED" {
		t.Fatalf("got %q ending %+v", tr.Text, tr.Terminal)
	}
	if s.Text() != "책 재료" {
		t.Errorf("Text() = %q after a late delta", s.Text())
	}
}

func TestRelay_ReadsTheAnswerToTheEndWhenEveryoneLeft(t *testing.T) {
	e := relaytest.NewEndpoint(t)
	d := &deleter{}
	s := newRelay(e, d, relay.Options{}).Start(context.Background(), answerID, []string{"a", "b", "a"})
	res := answerTrace(s)
	if s.Text() != strings.Join(traceDeltas, "") {
		t.Errorf("Text() = %q", s.Text())
	}
	if !slices.Equal(res.Gone, []string{"a", "b"}) || e.Posts("a") != 1 {
		t.Errorf("gone %v, %d posts to a: want [a b] once each", res.Gone, e.Posts("a"))
	}
}

func TestRelay_StopsWhenTheContextEnds(t *testing.T) {
	e := relaytest.NewEndpoint(t)
	e.Open("c1")
	release := make(chan struct{})
	e.SetHook(func(string, []byte) { <-release })
	t.Cleanup(func() { close(release) })
	ctx, cancel := context.WithCancel(context.Background())
	s := newRelay(e, &deleter{}, relay.Options{}).Start(ctx, answerID, []string{"c1"})
	s.Delta("x")
	s.Complete()
	cancel()
	if res := s.Wait(); !slices.Equal(res.Failed, []string{"c1"}) {
		t.Errorf("Failed = %v, want [c1]", res.Failed)
	}
}

func TestEndpoint(t *testing.T) {
	if got := relay.Endpoint("", "abc.execute-api.us-east-1.amazonaws.com", "prod"); got != "https://abc.execute-api.us-east-1.amazonaws.com/prod" {
		t.Errorf("from the event: %s", got)
	}
	if got := relay.Endpoint("http://127.0.0.1:3001/prod", "abc", "prod"); got != "http://127.0.0.1:3001/prod" {
		t.Errorf("CALLBACK_URL: %s", got)
	}
}

// logged is a logger writing JSON lines to a buffer.
func logged() (*slog.Logger, *testkit.SyncBuffer) {
	var buf testkit.SyncBuffer
	return slog.New(slog.NewJSONHandler(&buf, nil)), &buf
}

func TestRelay_EveryKindOf403SkipsTheConnectionWithoutDeletingIt(t *testing.T) {
	for _, reply := range []relaytest.Reply{relaytest.Forbidden, relaytest.AccessDenied, relaytest.Forbidden403} {
		t.Run(reply.ErrorType, func(t *testing.T) {
			e := relaytest.NewEndpoint(t)
			e.Open("caller", "peer-1", "peer-2")
			e.Script("peer-1", reply)
			e.Script("peer-2", reply)
			d := &deleter{}
			log, buf := logged()
			r := newRelay(e, d, relay.Options{Endpoint: e.URL, Logger: log})
			s := r.Start(context.Background(), answerID, []string{"caller", "peer-1", "peer-2"})
			res := answerTrace(s)
			if got := d.deleted(); len(got) != 0 {
				t.Errorf("deleted %v: a 403 must never delete a connection", got)
			}
			if !slices.Equal(res.Forbidden, []string{"peer-1", "peer-2"}) || len(res.Gone)+len(res.Failed) != 0 {
				t.Errorf("result %+v: want peer-1 and peer-2 skipped as forbidden", res)
			}
			for _, id := range []string{"peer-1", "peer-2"} {
				if n := e.Posts(id); n != 1 {
					t.Errorf("%d posts to %s after its 403, want 1", n, id)
				}
			}
			if tr := transcript(t, e, "caller"); tr.Text != strings.Join(traceDeltas, "") {
				t.Errorf("caller got %q", tr.Text)
			}
			errs := strings.Count(buf.String(), `"level":"ERROR"`)
			if errs != 1 || !strings.Contains(buf.String(), e.URL) || !strings.Contains(buf.String(), "CALLBACK_URL") {
				t.Errorf("log %s: want one ERROR naming the endpoint and the likely causes", buf.String())
			}
		})
	}
}

func TestRelay_ThrottledFrameIsRebuiltWithTheTextThatArrivedSince(t *testing.T) {
	e := relaytest.NewEndpoint(t)
	e.Open("c1")
	e.Script("c1", relaytest.LimitExceeded, relaytest.TooManyRequests)
	var s *relay.Stream
	var once sync.Once
	started := make(chan struct{})
	e.SetHook(func(string, []byte) {
		once.Do(func() { <-started; s.Delta(" 재료") }) // arrives while the first post is throttled
	})
	s = newRelay(e, &deleter{}, relay.Options{}).Start(context.Background(), answerID, []string{"c1"})
	s.Delta("책")
	close(started)
	// The first accepted frame carries both deltas under seq 1.
	for len(e.Frames("c1")) == 0 {
		time.Sleep(time.Millisecond)
	}
	s.Complete()
	res := s.Wait()
	tr := transcript(t, e, "c1")
	if tr.Frames[0].Delta != "책 재료" || tr.Frames[0].Seq != 1 {
		t.Errorf("first frame %+v: want seq 1 rebuilt with the text that arrived during the 429s", tr.Frames[0])
	}
	if tr.Text != "책 재료" || tr.Terminal.Type != relay.TypeComplete || res.Throttled != 2 {
		t.Errorf("got %q ending %s after %d throttled posts, want the whole answer complete after 2", tr.Text, tr.Terminal.Type, res.Throttled)
	}
}

func TestRelay_RetriesThrottlingForAsLongAsTheContextAllows(t *testing.T) {
	e := relaytest.NewEndpoint(t)
	e.Open("c1", "c2")
	for range 200 { // far more than any fixed attempt budget
		e.Script("c1", relaytest.LimitExceeded)
	}
	s := newRelay(e, &deleter{}, relay.Options{}).Start(context.Background(), answerID, []string{"c1", "c2"})
	res := answerTrace(s)
	for _, id := range []string{"c1", "c2"} {
		if tr := transcript(t, e, id); tr.Text != strings.Join(traceDeltas, "") || tr.Terminal.Type != relay.TypeComplete {
			t.Errorf("%s got %q ending %s", id, tr.Text, tr.Terminal.Type)
		}
	}
	if res.Throttled != 200 || len(res.Failed) != 0 {
		t.Errorf("result %+v: want 200 throttled posts and every connection served", res)
	}
}

func TestRelay_HungPostIsAbandonedAfterPostTimeoutAndRetriedWithTheSameSeq(t *testing.T) {
	e := relaytest.NewEndpoint(t)
	e.Open("c1")
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	var posts atomic.Int32
	e.SetHook(func(string, []byte) {
		if posts.Add(1) == 1 {
			<-release // the first post never answers
		}
	})
	r := newRelay(e, &deleter{}, relay.Options{PostTimeout: 50 * time.Millisecond})
	s := r.Start(context.Background(), answerID, []string{"c1"})
	s.Delta("책")
	s.Delta(" 재료")
	s.Complete()
	res := s.Wait()
	tr := transcript(t, e, "c1")
	if tr.Text != "책 재료" || tr.Terminal.Type != relay.TypeComplete {
		t.Errorf("got %q ending %s", tr.Text, tr.Terminal.Type)
	}
	if res.Posts < 2 || len(res.Failed) != 0 {
		t.Errorf("result %+v: want the hung post abandoned and retried", res)
	}
}

func TestRelay_TerminalFrameIsRetriedUntilTheContextEnds(t *testing.T) {
	e := relaytest.NewEndpoint(t)
	e.Open("bad", "good")
	e.SetHook(func(id string, frame []byte) {
		if id == "bad" && strings.Contains(string(frame), `"isComplete":true`) {
			e.Script("bad", relaytest.InternalError) // every ending fails
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	d := &deleter{}
	s := newRelay(e, d, relay.Options{}).Start(ctx, answerID, []string{"bad", "good"})
	s.Delta("안녕")
	s.Complete()
	res := s.Wait()
	if ctx.Err() == nil {
		t.Error("Wait returned before the context ended: the ending was not retried")
	}
	if !slices.Equal(res.Failed, []string{"bad"}) || len(d.deleted()) != 0 {
		t.Errorf("failed %v, deleted %v: want [bad] failed, nothing deleted", res.Failed, d.deleted())
	}
	if e.Posts("bad") < 10 {
		t.Errorf("%d posts to bad in 300 ms of 5xx, want the ending retried", e.Posts("bad"))
	}
	if tr := transcript(t, e, "good"); tr.Text != "안녕" {
		t.Errorf("good got %q", tr.Text)
	}
}

// panicky is a Poster whose first post to one connection panics.
type panicky struct {
	relay.Poster
	id       string
	once     sync.Once
	panicked chan struct{}
}

func (p *panicky) PostToConnection(ctx context.Context, in *apigatewaymanagementapi.PostToConnectionInput,
	optFns ...func(*apigatewaymanagementapi.Options)) (*apigatewaymanagementapi.PostToConnectionOutput, error) {
	if *in.ConnectionId == p.id {
		p.once.Do(func() {
			close(p.panicked)
			panic("poster bug")
		})
	}
	return p.Poster.PostToConnection(ctx, in, optFns...)
}

func TestRelay_PanickingSenderEndsTheAnswerWithInternal(t *testing.T) {
	e := relaytest.NewEndpoint(t)
	e.Open("caller", "peer")
	p := &panicky{Poster: e.Client(), id: "peer", panicked: make(chan struct{})}
	log, buf := logged()
	s := relay.New(p, &deleter{}, relay.Options{Backoff: fastRetry, Logger: log}).Start(context.Background(), answerID, []string{"caller", "peer"})
	s.Delta("책")
	<-s.Ended()
	s.Delta(" 재료") // after the ending: ignored
	s.Complete()   // ignored too
	s.Wait()
	if code, ok := s.Outcome(); !ok || code != relay.CodeInternal {
		t.Errorf("Outcome() = %q, %v; want INTERNAL", code, ok)
	}
	for _, id := range []string{"caller", "peer"} {
		tr := transcript(t, e, id)
		if tr.Text != "책" || tr.Terminal.Type != relay.TypeError || tr.Terminal.Code != relay.CodeInternal {
			t.Errorf("%s got %q ending %+v, want the text so far then INTERNAL", id, tr.Text, tr.Terminal)
		}
	}
	if !strings.Contains(buf.String(), "poster bug") {
		t.Errorf("the panic is not logged: %s", buf.String())
	}
}
