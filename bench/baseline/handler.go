// Package baseline is the relay the benchmarks compare ragchat's coalescing
// relay with: the approach of aws-samples/bedrock-chat, where the websocket
// Lambda reads the model's stream and makes one synchronous
// PostToConnection per chunk, reading the next chunk only after the post
// returned.
//
// It takes the message function's interfaces (functions/message/handler)
// and does the same DynamoDB work as the message function (the caller's
// connection, the room's connections, the question and the answer stored,
// the room touched) and sends the same frame envelope (delta frames with
// seq from 1, then one complete or error frame), so that the benchmarks
// compare the relays and nothing else. It is benchmark code: it handles
// only the sendMessage route.
package baseline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"

	"github.com/ragchat/ragchat/functions/message/handler"
	"github.com/ragchat/ragchat/shared/apigw"
	"github.com/ragchat/ragchat/shared/rag"
	"github.com/ragchat/ragchat/shared/relay"
	"github.com/ragchat/ragchat/shared/store"
)

// maxFrameBytes is API Gateway's frame limit; the complete frame repeats
// the answer only when it stays under it.
const maxFrameBytes = 32 << 10

// History is the part of the message handler's History the baseline uses:
// it stores the question and the answer and touches the room, nothing of
// repeats.
type History interface {
	PutMessage(ctx context.Context, m store.Message) error
	TouchRoom(ctx context.Context, roomID string, atMs int64) error
}

// Handler answers sendMessage with one synchronous post per RAG event and
// recipient. All fields but Log are required.
type Handler struct {
	Conns       handler.Connections
	History     History
	RAG         handler.Asker
	Poster      func(endpoint string) relay.Poster
	CallbackURL string
	// DeadlineMargin ends the answer with RAG_TIMEOUT this long before the
	// Lambda deadline.
	DeadlineMargin time.Duration
	Log            *slog.Logger
}

// Frame is the envelope of every frame the handler posts, with the keys
// DESIGN.md gives each type: Delta is set on delta and complete frames,
// Code and Message on error frames.
type Frame struct {
	Type       string  `json:"type"`
	SessionID  string  `json:"sessionId"`
	MessageID  string  `json:"messageId"`
	Seq        int     `json:"seq"`
	Delta      *string `json:"delta,omitempty"`
	Code       string  `json:"code,omitempty"`
	Message    string  `json:"message,omitempty"`
	IsComplete bool    `json:"isComplete"`
	Answer     string  `json:"answer,omitempty"`
}

type question struct {
	Message   string `json:"message"`
	Category1 string `json:"category1"`
	Category2 string `json:"category2"`
}

// Handle answers one sendMessage event. A malformed body, an unknown
// connection or a failed store write ends without frames: the baseline
// exists to be measured on the happy path and on RAG failures only.
func (h *Handler) Handle(ctx context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	rc := ev.RequestContext
	log := h.log().With("connectionId", rc.ConnectionID)
	var q question
	if err := json.Unmarshal([]byte(ev.Body), &q); err != nil || q.Message == "" {
		log.Warn("malformed message")
		return apigw.WSOK(), nil
	}
	conn, err := h.Conns.GetConnection(ctx, rc.ConnectionID)
	if err != nil {
		log.Error("look up the caller's connection", "err", err)
		return apigw.WSOK(), nil
	}
	started := time.Now()
	peers, err := h.Conns.RoomConnections(ctx, conn.RoomID, started)
	if err != nil {
		log.Error("list the room's connections", "err", err)
	}
	recipients := []string{rc.ConnectionID}
	for _, c := range peers {
		if c.ConnectionID != rc.ConnectionID {
			recipients = append(recipients, c.ConnectionID)
		}
	}
	if err := h.History.PutMessage(ctx, store.Message{
		RoomID: conn.RoomID, At: started.UnixMilli(), MessageID: store.NewMessageID(), Role: store.RoleUser,
		Text: q.Message, Category1: q.Category1, Category2: q.Category2,
	}); err != nil {
		log.Error("store the question", "err", err)
		return apigw.WSOK(), nil
	}

	s := &sender{
		poster: h.Poster(relay.Endpoint(h.CallbackURL, rc.DomainName, rc.Stage)), conns: h.Conns, log: log,
		recipients: recipients, frame: Frame{SessionID: conn.RoomID, MessageID: store.NewMessageID()},
	}
	answer, outcome := h.stream(ctx, s, rag.Request{
		Message: q.Message, Category1: q.Category1, Category2: q.Category2,
		CompanyID: conn.CompanyID, SessionID: conn.RoomID, UserName: conn.UserName, UseHistory: true,
	})
	end := Frame{Type: relay.TypeComplete, Delta: new(string), IsComplete: true}
	if outcome != "complete" {
		end = Frame{Type: relay.TypeError, IsComplete: true, Code: outcome, Message: "The answer failed. Please try again."}
	} else if len(answer) < maxFrameBytes/2 {
		end.Answer = answer
	}
	s.post(ctx, end)

	answeredAt := max(time.Now().UnixMilli(), started.UnixMilli()+1)
	if err := h.History.PutMessage(ctx, store.Message{
		RoomID: conn.RoomID, At: answeredAt, MessageID: s.frame.MessageID, Role: store.RoleBot,
		Text: answer, Outcome: outcome, Category1: q.Category1, Category2: q.Category2,
	}); err != nil {
		log.Error("store the answer", "err", err)
	}
	if err := h.History.TouchRoom(ctx, conn.RoomID, answeredAt); err != nil {
		log.Warn("touch the room", "err", err)
	}
	log.Info("answered", "outcome", outcome, "posts", s.posts, "answerBytes", len(answer))
	return apigw.WSOK(), nil
}

// stream reads the RAG answer and posts each non-empty delta before it
// reads the next event. It returns the answer and "complete" or the error
// code the answer ended with.
func (h *Handler) stream(ctx context.Context, s *sender, req rag.Request) (string, string) {
	if deadline, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline.Add(-h.DeadlineMargin))
		defer cancel()
	}
	rs, err := h.RAG.Ask(ctx, req)
	if err != nil {
		return "", code(err)
	}
	defer rs.Close()
	var answer []byte
	for {
		ev, err := rs.Next()
		if err == io.EOF {
			return string(answer), "complete"
		}
		if err != nil {
			return string(answer), code(err)
		}
		if ev.Delta == "" {
			continue
		}
		answer = append(answer, ev.Delta...)
		s.post(ctx, Frame{Type: relay.TypeDelta, Delta: &ev.Delta})
	}
}

func (h *Handler) log() *slog.Logger {
	if h.Log != nil {
		return h.Log
	}
	return slog.Default()
}

// code is the error code of a failed RAG answer.
func code(err error) string {
	var re *rag.Error
	if errors.As(err, &re) {
		return re.Code
	}
	return "INTERNAL"
}

// sender posts frames to the recipients one at a time, synchronously.
type sender struct {
	poster     relay.Poster
	conns      handler.Connections
	log        *slog.Logger
	recipients []string
	frame      Frame // the ids every frame carries
	seq        int
	posts      int
}

// post marshals f with the answer's ids and the next seq and posts it to
// every recipient in turn. A gone recipient is deleted and dropped; any
// other failure drops it.
func (s *sender) post(ctx context.Context, f Frame) {
	s.seq++
	f.SessionID, f.MessageID, f.Seq = s.frame.SessionID, s.frame.MessageID, s.seq
	data, err := json.Marshal(f)
	if err != nil {
		s.log.Error("marshal frame", "err", err)
		return
	}
	kept := s.recipients[:0]
	for _, id := range s.recipients {
		s.posts++
		_, err := s.poster.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: &id, Data: data})
		if err == nil {
			kept = append(kept, id)
			continue
		}
		var gone *types.GoneException
		if errors.As(err, &gone) {
			if derr := s.conns.DeleteConnection(ctx, id); derr != nil {
				s.log.Warn("delete gone connection", "err", derr)
			}
			continue
		}
		s.log.Warn("post failed; dropping the connection", "err", fmt.Errorf("post to %s: %w", id, err))
	}
	s.recipients = kept
}
