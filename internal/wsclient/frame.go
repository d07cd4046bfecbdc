// Package wsclient is the client's side of the websocket API, the one model
// the tests, the benchmarks and the end-to-end suites share:
//
//   - Frame is every server-to-client frame DESIGN.md defines, decoded.
//   - Envelope checks what the server promises about a frame's shape: a
//     known type with exactly its keys (optional ones aside).
//   - Answers applies the rules a client relies on to what one socket
//     receives: seq per messageId from 1 without gaps, exactly one ending,
//     deltas concatenating to the answer, a repeated seq dropped, frames
//     without a type or of an unknown type ignored.
//   - Conn is a websocket client of the stack that reads, stamps and hands
//     out frames, and reads answers through Answers.
//
// It imports nothing of the server: it checks the contract from outside.
package wsclient

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Frame types.
const (
	TypeDelta    = "delta"
	TypeComplete = "complete"
	TypeError    = "error"
	TypeMessage  = "message"
	TypeStatus   = "status"
	TypePong     = "pong"
)

// Frame is one server-to-client frame. A frame without Type is one of API
// Gateway's own (for example {"message":"Endpoint request timed out"}).
// Fields a type does not carry are zero.
type Frame struct {
	Type            string  `json:"type"`
	SessionID       string  `json:"sessionId"`
	MessageID       string  `json:"messageId"`
	ClientMessageID string  `json:"clientMessageId"`
	Seq             int     `json:"seq"`
	Delta           string  `json:"delta"`
	IsComplete      bool    `json:"isComplete"`
	Answer          *string `json:"answer"` // nil when the complete frame does not repeat the answer
	Code            string  `json:"code"`
	Message         string  `json:"message"`
	Role            string  `json:"role"`
	Text            string  `json:"text"`
	UserName        string  `json:"userName"`
	CreatedAt       int64   `json:"createdAt"`
	Status          string  `json:"status"`
	AssignedAgent   *string `json:"assignedAgent"` // nil when absent or null
	AgentName       string  `json:"agentName"`
	Event           string  `json:"event"` // a status (or system message) frame's event

	Raw     []byte    `json:"-"` // the frame as received
	At      time.Time `json:"-"` // when Conn read it; zero for parsed frames
	NotJSON bool      `json:"-"` // Conn received a frame that is not a JSON object
}

// IsAnswer reports whether f is a frame of an answer (delta, complete or
// error).
func (f Frame) IsAnswer() bool {
	return f.Type == TypeDelta || f.Type == TypeComplete || f.Type == TypeError
}

// ErrNotJSON marks a frame that is not a JSON object.
var ErrNotJSON = errors.New("frame is not a JSON object")

// Parse decodes raw as a client does: any JSON object is a frame, whatever
// its type (or none).
func Parse(raw []byte) (Frame, error) {
	f := Frame{Raw: raw}
	if !bytes.HasPrefix(bytes.TrimLeft(raw, " \t\r\n"), []byte("{")) {
		return f, fmt.Errorf("%w: %.80q", ErrNotJSON, raw)
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		return Frame{Raw: raw}, fmt.Errorf("%w: %v: %.80q", ErrNotJSON, err, raw)
	}
	return f, nil
}

// envelope is the keys of one frame type: the ones it always has and the
// ones it may have.
type envelope struct {
	required, optional []string
}

// envelopes are the frame shapes of DESIGN.md.
var envelopes = map[string]envelope{
	TypeDelta:    {[]string{"type", "sessionId", "messageId", "seq", "delta", "isComplete"}, []string{"clientMessageId"}},
	TypeComplete: {[]string{"type", "sessionId", "messageId", "seq", "delta", "isComplete"}, []string{"answer", "clientMessageId"}},
	TypeError:    {[]string{"type", "sessionId", "messageId", "seq", "code", "message", "isComplete"}, []string{"clientMessageId"}},
	TypeMessage:  {[]string{"type", "sessionId", "messageId", "role", "text", "createdAt"}, []string{"userName", "clientMessageId", "event"}},
	// A status frame of a change carries the system message stored for it.
	TypeStatus: {[]string{"type", "sessionId", "status"}, []string{"assignedAgent", "agentName", "messageId", "event", "text", "createdAt"}},
	TypePong:   {[]string{"type"}, nil},
}

// Envelope decodes raw and checks what the server promises about its
// shape: a JSON object of a known type, with every key of that type,
// no key the type does not have, and isComplete true exactly on the
// complete and error frames. Clients ignore unknown types; the server
// never sends them, which is what this checks.
func Envelope(raw []byte) (Frame, error) {
	f, err := Parse(raw)
	if err != nil {
		return f, err
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(raw, &keys); err != nil {
		return f, fmt.Errorf("%w: %v", ErrNotJSON, err)
	}
	env, ok := envelopes[f.Type]
	if !ok {
		return f, fmt.Errorf("unknown frame type %q: %s", f.Type, raw)
	}
	for _, k := range env.required {
		if _, ok := keys[k]; !ok {
			return f, fmt.Errorf("%s frame without %q: %s", f.Type, k, raw)
		}
		delete(keys, k)
	}
	for _, k := range env.optional {
		delete(keys, k)
	}
	for k := range keys {
		return f, fmt.Errorf("%s frame with key %q it does not have: %s", f.Type, k, raw)
	}
	if f.IsAnswer() && f.IsComplete != (f.Type != TypeDelta) {
		return f, fmt.Errorf("%s frame with isComplete %v", f.Type, f.IsComplete)
	}
	return f, nil
}

// Check checks every frame one socket received, in arrival order, against
// its envelope and then the client rules. It returns the answers in the
// order their first frames arrived, ended or not.
func Check(frames [][]byte) ([]*Answer, error) {
	var as Answers
	for i, raw := range frames {
		f, err := Envelope(raw)
		if err != nil {
			return as.List(), fmt.Errorf("frame %d: %w", i, err)
		}
		if _, err := as.Add(f); err != nil {
			return as.List(), fmt.Errorf("frame %d: %w", i, err)
		}
	}
	return as.List(), nil
}

// Envelopes checks every frame's envelope and returns them decoded, in
// order.
func Envelopes(frames [][]byte) ([]Frame, error) {
	out := make([]Frame, 0, len(frames))
	for i, raw := range frames {
		f, err := Envelope(raw)
		if err != nil {
			return nil, fmt.Errorf("frame %d: %w", i, err)
		}
		out = append(out, f)
	}
	return out, nil
}
