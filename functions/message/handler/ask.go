package handler

import (
	"context"
	"log/slog"
	"time"

	"github.com/ragchat/ragchat/shared/apigw"
	"github.com/ragchat/ragchat/shared/rag"
	"github.com/ragchat/ragchat/shared/relay"
	"github.com/ragchat/ragchat/shared/store"
)

// clientMessages are the client-facing messages of the errors an answer can
// end with; causes go to the log only.
var clientMessages = map[string]string{
	rag.CodeUnavailable: "The answer service is unavailable. Please try again later.",
	rag.CodeTimeout:     "The answer service took too long to answer. Please try again.",
	rag.CodeInterrupted: "The answer was interrupted. Please try again.",
	CodeAnswerTooLong:   "The answer was too long and was cut short.",
	CodeInternal:        relay.MessageInternal,
}

// clientMessage is the client-facing message of an answer's error code.
func clientMessage(code string) string {
	if m, ok := clientMessages[code]; ok {
		return m
	}
	return clientMessages[CodeInternal]
}

// turn is one question and its answer: their ids and times, fixed before
// anything is written, so that a repeat record can name the answer before
// it exists.
type turn struct {
	conn     store.Connection // the caller's
	q        question
	question store.Message
	answerID string
	answerAt int64 // the answer's sort-key time: right after its question
	started  time.Time
	// versions tells the room's revoked sockets (recipients.go); conn's
	// own token was found current before the turn began.
	versions *apigw.Versions
}

func (h *Handler) newTurn(conn store.Connection, q question) *turn {
	started := h.now()
	at := started.UnixMilli()
	return &turn{
		conn: conn, q: q, started: started, versions: h.versions(conn),
		question: store.Message{
			RoomID: conn.RoomID, At: at, MessageID: store.NewMessageID(), Role: store.RoleUser,
			Text: q.Message, Category1: q.Category1, Category2: q.Category2,
			UserName: conn.UserName, ClientMessageID: q.ClientMessageID,
		},
		answerID: store.NewMessageID(),
		answerAt: at + 1,
	}
}

// answer is what identifies the turn's answer frames.
func (t *turn) answer() relay.Answer {
	return relay.Answer{SessionID: t.conn.RoomID, MessageID: t.answerID, ClientMessageID: t.q.ClientMessageID}
}

// repeat is the turn's repeat record.
func (t *turn) repeat() store.Repeat {
	return store.Repeat{
		RoomID: t.conn.RoomID, ClientMessageID: t.q.ClientMessageID, QuestionID: t.question.MessageID,
		AnswerID: t.answerID, AnswerAt: t.answerAt, AskedAt: t.question.At,
	}
}

// ask answers a valid question in steps: look up the caller; check that
// its token is not revoked (revoke.go) while a token of the user's
// question bucket is taken (limits.go: every sendMessage does); settle
// a repeated clientMessageId (repeat.go); route by the room's status
// (handoff.go: only a BOT room's questions go on), taking the room's one
// answer slot in the same write (limits.go), given back before the ending
// goes out; store the question while the
// room's connections are looked up (recipients.go); send the question to
// the other sockets and stream the RAG answer to everyone, newcomers
// included (stream.go); write the answer item from its first frame to its
// end (answer.go).
func (h *Handler) ask(ctx context.Context, r *relay.Relay, posts *observedPoster, caller string, q question) {
	log := h.log().With("connectionId", caller)
	conn, ok := h.caller(ctx, r, log, caller)
	if !ok {
		return
	}
	log = log.With("roomId", conn.RoomID)
	current := h.checkToken(ctx, log, conn) // its read runs with the question token's write
	rej := h.takeQuestionToken(ctx, log, conn)
	if revoked := current(); revoked != nil {
		rej = revoked
	}
	if rej != nil {
		h.rejectQuestion(ctx, r, caller, conn.RoomID, q, rej)
		return
	}
	t := h.newTurn(conn, q)
	if q.ClientMessageID != "" {
		log = log.With("clientMessageId", q.ClientMessageID)
		if h.settleRepeat(ctx, r, log, t) {
			return
		}
	}
	free, handled := h.routeByStatus(ctx, r, log, t)
	if handled {
		return
	}
	defer free()

	actx, cancel := h.answerTime(ctx) // the question and the RAG answer; the ending keeps the margin
	defer cancel()
	others, err := h.storeQuestion(actx, log, t)
	if err != nil {
		log.Error("store the question", "err", err)
		h.releaseRepeat(ctx, log, t)
		h.rejectQuestion(ctx, r, caller, conn.RoomID, q, &rejection{CodeInternal, clientMessages[CodeInternal]})
		return
	}
	s := r.Start(ctx, t.answer(), []string{caller})
	h.addOthers(log, s, t, others)
	initial := s.Recipients()
	stopFollowing := h.follow(ctx, log, s, t)
	item := h.writeAnswer(ctx, log, t, s)
	outcome, skipped := h.stream(actx, log, s, rag.Request{
		Message: q.Message, Category1: q.Category1, Category2: q.Category2,
		CompanyID: conn.CompanyID, SessionID: conn.RoomID, UserName: conn.UserName, UseHistory: true,
	}, item.started)
	stopFollowing()
	free() // before the ending goes out
	if outcome == OutcomeComplete {
		s.Complete()
	} else {
		s.Fail(outcome, clientMessage(outcome))
	}
	if code, _ := s.Outcome(); code != "" {
		outcome = code // the relay may have ended the answer first (CodeInternal)
	}

	// Store while the last frames go out.
	stored := item.finish(outcome)
	res := s.Wait()
	log.Info("answered", "messageId", t.answerID, "outcome", outcome, "answerBytes", len(stored),
		"recipients", s.Recipients(), "posts", res.Posts, "frames", res.Frames, "frameBytes", res.Bytes,
		"gone", len(res.Gone), "forbidden", len(res.Forbidden), "failed", len(res.Failed), "throttled", res.Throttled, "skippedLines", skipped,
		"ms", h.now().Sub(t.started).Milliseconds())
	h.answerMetrics(posts, t.started, outcome, res, initial, s.Recipients())
}

// addOthers makes the room's other sockets recipients, the question going
// to them first as a message frame (the caller gets no echo of it).
func (h *Handler) addOthers(log *slog.Logger, s *relay.Stream, t *turn, others []string) {
	if len(others) == 0 {
		return
	}
	m := t.question
	lead, err := relay.MessageFrame(relay.Message{
		SessionID: m.RoomID, MessageID: m.MessageID, Role: m.Role, Text: m.Text,
		UserName: m.UserName, ClientMessageID: m.ClientMessageID, CreatedAt: m.At,
	})
	if err != nil { // a question is at most 2000 runes: cannot happen
		log.Error("build the question's message frame", "err", err)
	}
	s.Add(others, lead)
}
