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
//   - every post attempt has its own timeout (PostTimeout), and nothing a
//     sender does outlives the context given to Start: that context is the
//     answer's time, and the caller gives it a deadline before its own;
//   - every connection that is not gone and not refused (403) gets exactly
//     one terminal frame (complete or error), retried until the context
//     ends; the complete frame repeats the whole answer when it fits;
//   - recipients can join while the answer streams (Stream.Add): a
//     newcomer's first frame has seq 1 and carries all the text so far (as
//     much as fits in one frame), then it gets frames like everyone else;
//   - a recipient added with a lead frame (the question, as a message
//     frame) gets that frame before any frame of the answer.
//
// Relay.Post sends one ready-made frame (a message or status frame) to a
// set of connections with the same failure rules (a 429 retries it as is:
// there is nothing to rebuild).
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
// Failures of a post, retried with exponential backoff and full jitter
// (capped by Backoff.Max, about 1 s) for as long as the context allows:
//
//   - 410 (GoneException): the connection is deleted from the connections
//     table and skipped from then on. Nothing else deletes a connection.
//   - 403 (ForbiddenException, AccessDeniedException, any other 403): a
//     configuration fault (IAM policy, stage, CALLBACK_URL), never proof
//     that a socket is gone: the connection is skipped for this answer but
//     not deleted, and the stream logs one ERROR naming the endpoint.
//   - 429 (throttling): nothing was delivered, so the frame is rebuilt from
//     everything that arrived since (same seq, more text) and retried.
//   - 5xx, transport errors and attempts that time out: the frame may have
//     been delivered, so the same bytes (same seq) are retried; a client
//     drops a seq it already holds.
//   - any other error (400, 413) gives the connection up at once.
//
// A sender that panics is recovered: the answer ends with CodeInternal for
// every connection (unless it had already ended), and the panicking sender
// retries its pending frame and its ending once more. None of this affects
// the producer: the answer is read to the end and kept whole even when
// every recipient has left.
package relay

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
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

// Backoff shapes the waits between the attempts of a failing post: a
// random time in [0, min(Max, Base*2^n)) before retry n+1, n counting the
// connection's consecutive failures. There is no limit on attempts: the
// context given to Start bounds them.
type Backoff struct {
	Base time.Duration
	Max  time.Duration
}

// DefaultBackoff starts at 50 ms and is capped at 1 s.
var DefaultBackoff = Backoff{Base: 50 * time.Millisecond, Max: time.Second}

// DefaultPostTimeout bounds one PostToConnection attempt (POST_TIMEOUT).
const DefaultPostTimeout = 3 * time.Second

// CodeInternal and MessageInternal are the error code and client-facing
// message of an answer that ends because the relay itself failed.
const (
	CodeInternal    = "INTERNAL"
	MessageInternal = "Something went wrong. Please try again."
)

// Options tune a Relay. The zero value is usable: no frame floor,
// MaxFrameBytes, DefaultPostTimeout, DefaultBackoff and slog.Default().
type Options struct {
	MinFrameInterval time.Duration // floor between frame posts per connection
	MaxFrameBytes    int           // frame limit; 0 means MaxFrameBytes
	PostTimeout      time.Duration // bound of one post attempt; 0 means DefaultPostTimeout
	Backoff          Backoff       // zero means DefaultBackoff
	Endpoint         string        // the @connections endpoint, named in the 403 log
	Logger           *slog.Logger  // nil means slog.Default()
	// MaxRecipients caps the connections one answer is ever posted to
	// (MAX_ROOM_CONNECTIONS), the first come first served; 0 means no cap.
	MaxRecipients int
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
	if opts.PostTimeout <= 0 {
		opts.PostTimeout = DefaultPostTimeout
	}
	if opts.Backoff.Max <= 0 {
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
	Posts     int      // PostToConnection calls, retries included
	Frames    int      // frames API Gateway accepted
	Bytes     int      // bytes of the accepted frames
	Throttled int      // posts answered 429
	Gone      []string // connections found gone (410) and deleted, in recipient order
	Forbidden []string // connections skipped after a 403 (not deleted), in recipient order
	Failed    []string // connections that did not get their ending: errors, or the context ended
}

// Stream relays one answer to its recipients. Delta, Complete and Fail are
// called by one producer goroutine; Wait by any.
type Stream struct {
	relay     *Relay
	ctx       context.Context
	answer    Answer
	wg        sync.WaitGroup
	ended     chan struct{} // closed when the answer ends
	forbidden sync.Once     // the one 403 ERROR of this answer

	mu      sync.Mutex
	senders []*sender       // in the order they were added
	seen    map[string]bool // every id ever added, gone ones included
	text    []byte          // the answer so far; append-only
	end     *ending         // set once by Complete, Fail or a sender's panic
	moved   *sync.Cond      // on mu: a sender's sent or over changed (WaitSent)
}

// sender is the goroutine state of one recipient connection.
type sender struct {
	id       string
	wake     chan struct{} // capacity 1: "the stream has news"
	lead     []byte        // posted before the first answer frame; nil for none (or once sent)
	framer   framer
	before   framer // the framer before the pending frame was built: a 429 rebuilds from it
	buf      []byte // frame buffer, reused between frames
	frame    []byte // the pending frame (not accepted yet), nil when none
	terminal bool   // the pending frame ends the answer
	failures int    // consecutive failed attempts
	lastPost time.Time
	floor    *time.Timer
	posts    int
	frames   int
	bytes    int
	throttle int
	status   senderStatus
	sent     int  // bytes of the answer in frames the connection accepted; guarded by Stream.mu
	over     bool // the goroutine returned: nothing more is sent; guarded by Stream.mu
}

type senderStatus int

const (
	statusOpen senderStatus = iota
	statusDone
	statusGone
	statusForbidden
	statusFailed
)

// Start begins relaying an answer to recipients (connection ids; the
// caller's first). Senders are started and woken in recipient order. ctx is
// the answer's time: every post and retry ends with it, and a sender still
// without its ending then stops where it is. Duplicate ids are served once.
func (r *Relay) Start(ctx context.Context, a Answer, recipients []string) *Stream {
	s := r.newStream(ctx, a)
	s.Add(recipients, nil)
	return s
}

func (r *Relay) newStream(ctx context.Context, a Answer) *Stream {
	s := &Stream{relay: r, ctx: ctx, answer: a, ended: make(chan struct{}), seen: map[string]bool{}}
	s.moved = sync.NewCond(&s.mu)
	return s
}

// Add makes connections recipients of the answer, in order; ids the stream
// already has (or had: gone and given-up ones too) are ignored. Each new
// recipient first gets lead when it is not nil, then the answer's frames
// from seq 1, the first carrying all the text so far; one added after the
// answer ended gets the whole answer and its ending. Add may be called from
// any goroutine, until Wait is called. Past Options.MaxRecipients, ids
// are dropped (and logged).
func (s *Stream) Add(ids []string, lead []byte) {
	s.mu.Lock()
	var added []*sender
	for _, id := range ids {
		if s.seen[id] {
			continue
		}
		s.seen[id] = true
		if max := s.relay.opts.MaxRecipients; max > 0 && len(s.senders) >= max {
			s.relay.opts.Logger.Warn("recipient over the room's connection cap; not posted to",
				"connectionId", id, "messageId", s.answer.MessageID, "maxRecipients", max)
			continue
		}
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
// empty delta is ignored, and so is a delta after the answer ended.
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
// it fits. Only the first ending counts.
func (s *Stream) Complete() {
	s.finish(&ending{})
}

// Fail ends the answer with an error: each connection gets the text not yet
// sent in delta frames, then an error frame with code and message (message
// is client-facing). Only the first ending counts.
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
	close(s.ended)
	s.mu.Unlock()
	s.notify()
}

// Ended is closed when the answer has ended: by Complete, by Fail, or by a
// sender's panic (CodeInternal), which the producer can watch for to stop
// reading an answer nobody will be sent.
func (s *Stream) Ended() <-chan struct{} { return s.ended }

// Outcome reports how the answer ended: code is "" for a complete answer,
// otherwise the error code the connections are sent; ok is false while the
// answer goes on.
func (s *Stream) Outcome() (code string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.end == nil {
		return "", false
	}
	return s.end.Code, true
}

// Text returns the answer so far.
func (s *Stream) Text() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(s.text)
}

// WaitSent waits until every recipient holds the answer's text so far
// (its whole runes: a rune split across deltas waits for its last bytes)
// or is served no more: its ending accepted, gone, refused, given up, or
// the Start context ended. The coalescing relay does not need it (Delta
// never waits); a producer that calls it after every Delta gets one frame
// per delta and reads on only once its posts returned, as the benchmarks'
// one-post-per-delta competitor does (bench/baseline).
func (s *Stream) WaitSent() {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(wholeRunes(s.text))
	for !s.sentUpTo(n) {
		s.moved.Wait()
	}
}

// sentUpTo reports whether every sender holds n bytes of text or is over;
// call it with s.mu held.
func (s *Stream) sentUpTo(n int) bool {
	for _, c := range s.senders {
		if !c.over && c.sent < n {
			return false
		}
	}
	return true
}

// retire records that c is served no more, and wakes WaitSent.
func (s *Stream) retire(c *sender) {
	s.mu.Lock()
	c.over = true
	s.moved.Broadcast()
	s.mu.Unlock()
}

// Wait waits until every sender is done (terminal frame accepted, gone,
// refused, given up, or the Start context ended) and reports what they did.
// Call it after the answer ended.
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
		res.Throttled += c.throttle
		switch c.status {
		case statusGone:
			res.Gone = append(res.Gone, c.id)
		case statusForbidden:
			res.Forbidden = append(res.Forbidden, c.id)
		case statusFailed, statusOpen:
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

// accepted is snapshot for a sender about to build its next frame: every
// frame it built before has been accepted, so it also records what its
// connection holds (c.framer.sent) and wakes WaitSent, under the lock the
// snapshot takes anyway.
func (s *Stream) accepted(c *sender) ([]byte, *ending) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.sent != c.framer.sent {
		c.sent = c.framer.sent
		s.moved.Broadcast()
	}
	return s.text, s.end
}

// run is the goroutine of one connection. A panic ends the answer with
// CodeInternal; the sender then tries once more to deliver its pending
// frame and its ending, and gives the connection up if it panics again.
func (s *Stream) run(c *sender) {
	defer s.wg.Done()
	defer func() {
		if c.floor != nil {
			c.floor.Stop()
		}
		s.retire(c)
	}()
	for try := 0; try < 2; try++ {
		if !s.guarded(c) {
			return
		}
	}
}

// guarded runs the sender loop and reports whether it panicked.
func (s *Stream) guarded(c *sender) (panicked bool) {
	defer s.recoverSender(c, &panicked)
	c.status = statusOpen
	s.loop(c)
	return false
}

// recoverSender, deferred, turns a panic of c's goroutine into the end of
// the answer with CodeInternal (unless it had ended) and an ERROR log, and
// sets *panicked.
func (s *Stream) recoverSender(c *sender, panicked *bool) {
	v := recover()
	if v == nil {
		return
	}
	*panicked = true
	c.status = statusFailed
	s.relay.opts.Logger.Error("relay sender panicked; the answer ends with "+CodeInternal,
		"connectionId", c.id, "messageId", s.answer.MessageID, "panic", v, "stack", string(debug.Stack()))
	s.finish(&ending{Code: CodeInternal, Message: MessageInternal})
}

// loop sends the frames of one connection until its ending is accepted or
// the connection is done for.
func (s *Stream) loop(c *sender) {
	if c.lead != nil {
		if !s.post(c, c.lead) {
			return
		}
		c.lead = nil
	}
	for {
		if c.frame == nil && !s.build(c) {
			return
		}
		switch s.attempt(c) {
		case postAccepted:
			c.frames++
			c.bytes += len(c.frame)
			c.frame, c.failures = nil, 0
			if c.terminal {
				c.status = statusDone
				return
			}
		case postRebuild:
			c.framer, c.frame = c.before, nil
			if !s.backoff(c) {
				return
			}
		case postRetry:
			if !s.backoff(c) {
				return
			}
		case postStop:
			return
		}
	}
}

// build waits until the connection has something to send (and for the
// frame floor), then builds its next frame as c.frame. It reports false
// when the stream's context ended first.
func (s *Stream) build(c *sender) bool {
	text, end := s.accepted(c)
	for !c.framer.ready(text, end) {
		select {
		case <-c.wake:
			text, end = s.snapshot()
		case <-s.ctx.Done():
			c.status = statusFailed
			return false
		}
	}
	if end == nil && c.framer.seq > 0 && s.relay.opts.MinFrameInterval > 0 {
		if wait := time.Until(c.lastPost.Add(s.relay.opts.MinFrameInterval)); wait > 0 {
			if !s.waitFloor(c, wait) {
				c.status = statusFailed
				return false
			}
			text, end = s.snapshot()
		}
	}
	c.before = c.framer
	c.frame, c.terminal, _ = c.framer.next(c.buf[:0], text, end)
	c.buf = c.frame
	return true
}

// waitFloor waits d, or less if the answer ends meanwhile (the last frame
// is never delayed). It reports false when the stream's context ended.
func (s *Stream) waitFloor(c *sender, d time.Duration) bool {
	if c.floor == nil {
		c.floor = time.NewTimer(d)
	} else {
		c.floor.Reset(d)
	}
	for {
		select {
		case <-c.floor.C:
			return true
		case <-c.wake:
			if _, end := s.snapshot(); end != nil {
				c.floor.Stop()
				return true
			}
		case <-s.ctx.Done():
			c.floor.Stop()
			return false
		}
	}
}

// postResult is what the sender does after one attempt.
type postResult int

const (
	postAccepted postResult = iota // the frame is delivered
	postRebuild                    // 429: nothing delivered; rebuild the frame with what arrived since
	postRetry                      // maybe delivered: retry the same frame
	postStop                       // the connection is done for (c.status says why)
)

// attempt makes one post of c.frame, bounded by PostTimeout, and sorts its
// failure as the package documents.
func (s *Stream) attempt(c *sender) postResult {
	r := s.relay
	ctx, cancel := context.WithTimeout(s.ctx, r.opts.PostTimeout)
	defer cancel()
	c.posts++
	c.lastPost = time.Now()
	_, err := r.poster.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: &c.id, Data: c.frame})
	if err == nil {
		return postAccepted
	}
	if s.ctx.Err() != nil {
		c.status = statusFailed
		return postStop
	}
	switch classify(err) {
	case errGone:
		c.status = statusGone
		dctx, cancel := context.WithTimeout(s.ctx, r.opts.PostTimeout)
		defer cancel()
		if derr := r.deleter.DeleteConnection(dctx, c.id); derr != nil {
			r.opts.Logger.Warn("delete gone connection", "connectionId", c.id, "err", derr)
		}
		return postStop
	case errForbidden:
		c.status = statusForbidden
		s.forbidden.Do(func() {
			r.opts.Logger.Error("@connections refused a post with 403: the connection is skipped for this answer, not deleted; "+
				"check the function's execute-api:ManageConnections policy, the stage and CALLBACK_URL",
				"endpoint", r.opts.Endpoint, "connectionId", c.id, "messageId", s.answer.MessageID, "err", err)
		})
		return postStop
	case errThrottled:
		c.throttle++
		return postRebuild
	case errRetry:
		return postRetry
	}
	c.status = statusFailed
	r.opts.Logger.Warn("post to connection failed; giving it up",
		"connectionId", c.id, "messageId", s.answer.MessageID, "err", err)
	return postStop
}

// post delivers one ready-made frame (a lead or a Relay.Post frame) with
// the same failure rules, a 429 retrying it as it is. It reports whether
// the frame was accepted; when not, c.status says why.
func (s *Stream) post(c *sender, frame []byte) bool {
	c.frame, c.terminal = frame, false
	defer func() { c.frame = nil }()
	for {
		switch s.attempt(c) {
		case postAccepted:
			c.frames++
			c.bytes += len(frame)
			c.failures = 0
			return true
		case postRebuild, postRetry:
			if !s.backoff(c) {
				return false
			}
		case postStop:
			return false
		}
	}
}

// backoff waits before the next attempt; it reports false (and marks the
// connection failed) when the stream's context ends first.
func (s *Stream) backoff(c *sender) bool {
	c.failures++
	if !sleep(s.ctx, s.relay.opts.Backoff.delay(c.failures)) {
		c.status = statusFailed
		return false
	}
	return true
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
