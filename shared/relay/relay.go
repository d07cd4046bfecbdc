// Package relay pushes a streamed answer to the websocket connections of a
// room through API Gateway's @connections API (PostToConnection).
//
// One Stream relays one answer. The producer appends deltas as they arrive
// (Delta never blocks on the network) and ends the answer once, with
// Complete or Fail. Each recipient connection has its own sender goroutine:
//
//   - the first frame goes out as soon as there is text;
//   - at most one PostToConnection is in flight per connection; text that
//     arrives meanwhile is coalesced into the next frame;
//   - consecutive frame posts to one connection start at least
//     MinFrameInterval apart, except the first frame and the frames that end
//     the answer, which are never delayed;
//   - no frame exceeds the frame limit (MaxFrameBytes, the whole JSON
//     frame): long text is split on UTF-8 rune boundaries, accounting for
//     JSON escaping;
//   - every connection gets exactly one terminal frame (complete or error)
//     unless it is gone or keeps failing;
//   - recipients can join while the answer streams (Stream.Add): a
//     newcomer's first frame has seq 1 and carries all the text so far (as
//     much as fits in one frame), then it gets frames like everyone else;
//   - a recipient added with a lead frame (the question, as a message
//     frame) gets that frame before any frame of the answer.
//
// Relay.Post sends one ready-made frame (a message or status frame) to a
// set of connections with the same failure rules.
//
// Sequence numbers are per connection. The answer text is one append-only
// buffer shared by all recipients, and each connection keeps its own cursor
// into it and its own frame counter: its frames carry seq 1, 2, ..., N with
// no gaps, and the concatenation of their delta fields (the complete frame
// included) is the answer byte for byte. Frame boundaries, and so N, may
// differ between connections: a slow connection gets fewer, larger frames.
// All frames of one answer share its messageId. Before an error frame any
// text not yet sent goes out in delta frames, so a client always holds
// exactly what was stored as the partial answer.
//
// Failures of a post: 410 (GoneException) and 403 (ForbiddenException) mean
// the connection is gone: it is deleted from the connections table and
// skipped from then on. 429 (throttling), 5xx and transport errors are
// retried with exponential backoff and full jitter, the same frame (same
// seq) each time, a bounded number of times; a connection that still fails
// is given up. Other errors give the connection up at once. None of this
// affects the other connections or the producer: the answer is read to the
// end and kept whole even when every recipient has left.
package relay

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
)

// Poster sends one frame to one connection. *apigatewaymanagementapi.Client
// implements it; build it with NewClient.
type Poster interface {
	PostToConnection(ctx context.Context, in *apigatewaymanagementapi.PostToConnectionInput,
		optFns ...func(*apigatewaymanagementapi.Options)) (*apigatewaymanagementapi.PostToConnectionOutput, error)
}

// ConnectionDeleter removes a gone connection from the connections table.
// Deleting a missing connection must succeed.
type ConnectionDeleter interface {
	DeleteConnection(ctx context.Context, connectionID string) error
}

// Backoff bounds the retries of a post that failed with 429, 5xx or a
// transport error: at most Attempts posts in all, waiting a random time in
// [0, min(Max, Base*2^n)) before retry n+1.
type Backoff struct {
	Attempts int
	Base     time.Duration
	Max      time.Duration
}

// DefaultBackoff gives up after six posts, about 1.5 s of waiting at most.
var DefaultBackoff = Backoff{Attempts: 6, Base: 50 * time.Millisecond, Max: time.Second}

// Options tune a Relay. The zero value is usable: no frame floor,
// MaxFrameBytes, DefaultBackoff and slog.Default().
type Options struct {
	MinFrameInterval time.Duration // floor between frame posts per connection
	MaxFrameBytes    int           // frame limit; 0 means MaxFrameBytes
	Backoff          Backoff       // zero means DefaultBackoff
	Logger           *slog.Logger  // nil means slog.Default()
}

// Relay sends answers through one @connections endpoint. It is safe for
// concurrent use; each answer is a Stream.
type Relay struct {
	poster  Poster
	deleter ConnectionDeleter
	opts    Options
}

// New returns a Relay that posts with p and deletes gone connections with d.
func New(p Poster, d ConnectionDeleter, opts Options) *Relay {
	if opts.MaxFrameBytes <= 0 {
		opts.MaxFrameBytes = MaxFrameBytes
	}
	if opts.Backoff.Attempts <= 0 {
		opts.Backoff = DefaultBackoff
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Relay{poster: p, deleter: d, opts: opts}
}

// Answer identifies the answer a Stream relays: its frames carry SessionID
// (the room id), MessageID and, when the question had one, ClientMessageID.
type Answer struct {
	SessionID       string
	MessageID       string
	ClientMessageID string
}

// Result is what a Stream did, for logs and measurements.
type Result struct {
	Posts  int      // PostToConnection calls, retries included
	Frames int      // frames API Gateway accepted
	Bytes  int      // bytes of the accepted frames
	Gone   []string // connections found gone (410/403) and deleted, in recipient order
	Failed []string // connections given up after errors (not deleted), in recipient order
}

// Stream relays one answer to its recipients. Delta, Complete and Fail are
// called by one producer goroutine; Wait by any.
type Stream struct {
	relay  *Relay
	ctx    context.Context
	answer Answer
	wg     sync.WaitGroup

	mu      sync.Mutex
	senders []*sender       // in the order they were added
	seen    map[string]bool // every id ever added, gone ones included
	text    []byte          // the answer so far; append-only
	end     *ending         // set once by Complete or Fail
}

// sender is the goroutine state of one recipient connection.
type sender struct {
	id     string
	wake   chan struct{} // capacity 1: "the stream has news"
	lead   []byte        // posted before the first answer frame; nil for none
	framer framer
	buf    []byte // frame buffer, reused between frames
	posts  int
	frames int
	bytes  int
	status senderStatus
}

type senderStatus int

const (
	statusOpen senderStatus = iota
	statusGone
	statusFailed
)

// Start begins relaying an answer to recipients (connection ids; the
// caller's first). Senders are started and woken in recipient order. Posts
// use ctx: when it ends, senders stop where they are. Duplicate ids are
// served once.
func (r *Relay) Start(ctx context.Context, a Answer, recipients []string) *Stream {
	s := &Stream{relay: r, ctx: ctx, answer: a, seen: map[string]bool{}}
	s.Add(recipients, nil)
	return s
}

// Add makes connections recipients of the answer, in order; ids the stream
// already has (or had: gone and given-up ones too) are ignored. Each new
// recipient first gets lead when it is not nil, then the answer's frames
// from seq 1, the first carrying all the text so far; one added after the
// answer ended gets the whole answer and its ending. Add may be called from
// any goroutine, until Wait is called.
func (s *Stream) Add(ids []string, lead []byte) {
	s.mu.Lock()
	var added []*sender
	for _, id := range ids {
		if s.seen[id] {
			continue
		}
		s.seen[id] = true
		c := &sender{id: id, wake: make(chan struct{}, 1), lead: lead,
			framer: newAnswerFramer(s.answer, s.relay.opts.MaxFrameBytes)}
		s.senders = append(s.senders, c)
		added = append(added, c)
	}
	s.wg.Add(len(added))
	s.mu.Unlock()
	for _, c := range added {
		go s.run(c)
	}
}

// Recipients returns the number of connections the stream has had.
func (s *Stream) Recipients() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.senders)
}

// Delta appends text to the answer. It never blocks on the network; an
// empty delta is ignored, and so is a delta after Complete or Fail.
func (s *Stream) Delta(text string) {
	if text == "" {
		return
	}
	s.mu.Lock()
	if s.end != nil {
		s.mu.Unlock()
		return
	}
	s.text = append(s.text, text...)
	s.mu.Unlock()
	s.notify()
}

// Complete ends the answer successfully: each connection gets the text not
// yet sent and a complete frame, which also repeats the whole answer when
// it fits. Only the first Complete or Fail counts.
func (s *Stream) Complete() {
	s.finish(&ending{})
}

// Fail ends the answer with an error: each connection gets the text not yet
// sent in delta frames, then an error frame with code and message (message
// is client-facing). Only the first Complete or Fail counts.
func (s *Stream) Fail(code, message string) {
	s.finish(&ending{Code: code, Message: message})
}

func (s *Stream) finish(e *ending) {
	s.mu.Lock()
	if s.end != nil {
		s.mu.Unlock()
		return
	}
	if e.Code == "" {
		e.answerLen = escapedLen(s.text)
	}
	s.end = e
	s.mu.Unlock()
	s.notify()
}

// Text returns the answer so far.
func (s *Stream) Text() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(s.text)
}

// Wait waits until every sender is done (terminal frame accepted, gone,
// given up, or the Start context ended) and reports what they did. Call it
// after Complete or Fail.
func (s *Stream) Wait() Result {
	s.wg.Wait()
	return s.result()
}

// result sums what the senders did; call it once they are all done.
func (s *Stream) result() Result {
	var res Result
	for _, c := range s.senders {
		res.Posts += c.posts
		res.Frames += c.frames
		res.Bytes += c.bytes
		switch c.status {
		case statusGone:
			res.Gone = append(res.Gone, c.id)
		case statusFailed:
			res.Failed = append(res.Failed, c.id)
		}
	}
	return res
}

// notify wakes every sender without blocking; a sender that already has a
// pending wake-up keeps just one.
func (s *Stream) notify() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.senders {
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
}

func (s *Stream) snapshot() ([]byte, *ending) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// Bytes below len(s.text) are never written again, so the slice can be
	// read after the lock is released while the producer appends.
	return s.text, s.end
}

// run is the sender loop of one connection.
func (s *Stream) run(c *sender) {
	defer s.wg.Done()
	if c.lead != nil && !s.post(c, c.lead) {
		return
	}
	var floor *time.Timer
	var lastPost time.Time
	for {
		text, end := s.snapshot()
		if !c.framer.ready(text, end) {
			select {
			case <-c.wake:
				continue
			case <-s.ctx.Done():
				return
			}
		}
		if end == nil && c.framer.seq > 0 && s.relay.opts.MinFrameInterval > 0 {
			if wait := time.Until(lastPost.Add(s.relay.opts.MinFrameInterval)); wait > 0 {
				if floor == nil {
					floor = time.NewTimer(wait)
				} else {
					floor.Reset(wait)
				}
				if !s.waitFloor(c, floor) {
					return
				}
				text, end = s.snapshot()
			}
		}
		frame, terminal, _ := c.framer.next(c.buf[:0], text, end)
		c.buf = frame
		lastPost = time.Now()
		if !s.post(c, frame) {
			return
		}
		c.frames++
		c.bytes += len(frame)
		if terminal {
			return
		}
	}
}

// waitFloor waits for the floor timer, or less if the answer ends
// meanwhile (the last frame is never delayed). It reports false when the
// stream's context ended.
func (s *Stream) waitFloor(c *sender, floor *time.Timer) bool {
	for {
		select {
		case <-floor.C:
			return true
		case <-c.wake:
			if _, end := s.snapshot(); end != nil {
				floor.Stop()
				return true
			}
		case <-s.ctx.Done():
			floor.Stop()
			return false
		}
	}
}

// post sends one frame, retrying as the package documents. It reports
// whether the frame was accepted; when not, c.status says why.
func (s *Stream) post(c *sender, frame []byte) bool {
	r := s.relay
	in := &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: &c.id, Data: frame}
	for attempt := 1; ; attempt++ {
		c.posts++
		_, err := r.poster.PostToConnection(s.ctx, in)
		if err == nil {
			return true
		}
		switch classify(err) {
		case errGone:
			c.status = statusGone
			if derr := r.deleter.DeleteConnection(s.ctx, c.id); derr != nil {
				r.opts.Logger.Warn("delete gone connection", "connectionId", c.id, "err", derr)
			}
			return false
		case errRetry:
			if attempt < r.opts.Backoff.Attempts && s.ctx.Err() == nil {
				if sleep(s.ctx, r.opts.Backoff.delay(attempt)) {
					continue
				}
			}
		}
		c.status = statusFailed
		if s.ctx.Err() == nil {
			r.opts.Logger.Warn("post to connection failed; giving it up",
				"connectionId", c.id, "messageId", s.answer.MessageID, "attempts", attempt, "err", err)
		}
		return false
	}
}

// delay is the wait before retry number attempt (1-based): full jitter over
// an exponentially growing, capped window.
func (b Backoff) delay(attempt int) time.Duration {
	window := b.Base << min(attempt-1, 30)
	if window <= 0 || window > b.Max {
		window = b.Max
	}
	if window <= 0 {
		return 0
	}
	return rand.N(window)
}

// sleep waits d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
