package relay

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
)

// TypeMessage is the frame type of a stored message (a question, an
// agent's or a system message) delivered to the room's other sockets.
const TypeMessage = "message"

// Post sends one ready-made frame to each of the connections, concurrently,
// with the relay's failure rules: a gone connection is deleted and
// skipped, a refused one (403) skipped, other failures retried with
// backoff until ctx ends, and no connection waits for another. Duplicate ids are posted to once. It returns when
// every post is accepted or given up, or ctx ended; label names the frame
// in logs (a message id).
func (r *Relay) Post(ctx context.Context, label string, frame []byte, connectionIDs []string) Result {
	s := r.newStream(ctx, Answer{MessageID: label})
	for _, id := range connectionIDs {
		if s.seen[id] {
			continue
		}
		s.seen[id] = true
		c := &sender{id: id}
		s.senders = append(s.senders, c)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			var panicked bool
			defer s.recoverSender(c, &panicked)
			if s.post(c, frame) {
				c.status = statusDone
			}
		}()
	}
	return s.Wait()
}

// Message is a message frame: a stored message as the room's other sockets
// receive it. Role is "user", "agent", "bot" or "system"; UserName,
// ClientMessageID and Event are left out when empty.
type Message struct {
	SessionID       string // the room id
	MessageID       string
	Role            string
	Text            string
	UserName        string
	ClientMessageID string
	Event           string
	CreatedAt       int64 // epoch ms
}

// messageFrame is the JSON shape of a message frame (DESIGN.md).
type messageFrame struct {
	Type            string `json:"type"`
	SessionID       string `json:"sessionId"`
	MessageID       string `json:"messageId"`
	Role            string `json:"role"`
	Text            string `json:"text"`
	UserName        string `json:"userName,omitempty"`
	ClientMessageID string `json:"clientMessageId,omitempty"`
	Event           string `json:"event,omitempty"`
	CreatedAt       int64  `json:"createdAt"`
}

// MessageFrame encodes m as a message frame, its text escaped as answer
// frames are (no HTML escaping). It fails when the frame would exceed
// MaxFrameBytes: a message frame is never split.
func MessageFrame(m Message) ([]byte, error) {
	frame, err := encodeFrame(messageFrame{
		Type: TypeMessage, SessionID: m.SessionID, MessageID: m.MessageID, Role: m.Role, Text: m.Text,
		UserName: m.UserName, ClientMessageID: m.ClientMessageID, Event: m.Event, CreatedAt: m.CreatedAt,
	})
	if err != nil {
		return nil, fmt.Errorf("message frame %s: %w", m.MessageID, err)
	}
	return frame, nil
}

// encodeFrame encodes a ready-made frame v as JSON without HTML escaping
// (as answer frames are), refusing one over MaxFrameBytes: such a frame is
// never split.
func encodeFrame(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	frame := bytes.TrimSuffix(b.Bytes(), []byte("\n"))
	if len(frame) > MaxFrameBytes {
		return nil, fmt.Errorf("%d bytes, over the %d-byte frame limit", len(frame), MaxFrameBytes)
	}
	return frame, nil
}
