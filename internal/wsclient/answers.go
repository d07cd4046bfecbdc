package wsclient

import (
	"bytes"
	"fmt"
	"strings"
)

// Answer is one answer as a client assembles it from the frames of its
// messageId.
type Answer struct {
	MessageID       string
	SessionID       string
	ClientMessageID string
	Frames          []Frame // the accepted frames, seq 1..N in order; repeats dropped
	Text            string  // the deltas concatenated in seq order, the ending's included
	Terminal        *Frame  // the complete or error frame; nil while the answer streams
	Duplicates      int     // frames dropped because their seq was already held

	text strings.Builder
}

// Ended reports whether the answer has its complete or error frame.
func (a *Answer) Ended() bool { return a.Terminal != nil }

// Answers applies the client rules of DESIGN.md to the frames one socket
// receives, in arrival order:
//   - seq is per messageId: an answer's first frame has seq 1 and each
//     next one the seq after it, without gaps;
//   - a frame whose seq is already held (a retried post) is dropped, and it
//     must be that frame byte for byte;
//   - an answer ends with exactly one complete or error frame, and nothing
//     new of it follows; after that, seq 1 of the same messageId is the
//     answer sent again (a repeated question);
//   - concatenating the deltas in seq order gives the answer, and the
//     complete frame's answer, when present, equals it byte for byte;
//   - every frame of an answer names the same session and clientMessageId;
//   - frames without a type and frames that are not answer frames are
//     ignored (counted in Ignored; message, status and pong frames are
//     for the caller to read from Conn).
//
// Error frames without a messageId (refusals of a malformed request) are
// each an answer of their own. The zero value is ready to use.
type Answers struct {
	list    []*Answer
	current map[string]*Answer // the latest answer of each messageId
	Ignored int
}

// List returns the answers in the order their first frames arrived.
func (as *Answers) List() []*Answer { return as.list }

// Add takes the next frame the socket received. It returns the answer the
// frame belongs to (nil for an ignored frame), or an error naming the rule
// the frame breaks; the frame is then not taken.
func (as *Answers) Add(f Frame) (*Answer, error) {
	if !f.IsAnswer() {
		as.Ignored++
		return nil, nil
	}
	a := as.current[f.MessageID]
	if a != nil && a.Ended() && f.MessageID == "" {
		a = nil // each refusal is an answer of its own
	}
	if a != nil && f.Seq >= 1 && f.Seq <= len(a.Frames) {
		if held := a.Frames[f.Seq-1]; sameFrame(held, f) {
			a.Duplicates++
			return a, nil
		}
		if !a.Ended() || f.Seq != 1 {
			return nil, fmt.Errorf("answer %s: seq %d again with other content: %s, held %s", f.MessageID, f.Seq, f.Raw, a.Frames[f.Seq-1].Raw)
		}
		a = nil // seq 1 after the ending: the answer is sent again
	}
	if a == nil {
		if f.Seq != 1 {
			return nil, fmt.Errorf("answer %s starts with seq %d, want 1: %s", f.MessageID, f.Seq, f.Raw)
		}
		a = &Answer{MessageID: f.MessageID, SessionID: f.SessionID, ClientMessageID: f.ClientMessageID}
		if as.current == nil {
			as.current = map[string]*Answer{}
		}
		as.current[f.MessageID] = a
		as.list = append(as.list, a)
	} else if err := a.follows(f); err != nil {
		return nil, err
	}
	a.take(f)
	if a.Terminal != nil && a.Terminal.Type == TypeComplete && a.Terminal.Answer != nil && *a.Terminal.Answer != a.Text {
		return a, fmt.Errorf("answer %s: complete.answer (%d bytes) differs from the deltas (%d bytes)", a.MessageID, len(*a.Terminal.Answer), len(a.Text))
	}
	return a, nil
}

// follows checks that f may come next in a, which has frames.
func (a *Answer) follows(f Frame) error {
	switch {
	case a.Ended():
		return fmt.Errorf("answer %s: %s frame seq %d after its %s frame: %s", a.MessageID, f.Type, f.Seq, a.Terminal.Type, f.Raw)
	case f.Seq != len(a.Frames)+1:
		return fmt.Errorf("answer %s: seq %d after seq %d: %s", a.MessageID, f.Seq, len(a.Frames), f.Raw)
	case f.SessionID != a.SessionID:
		return fmt.Errorf("answer %s: frame of session %q in an answer of session %q", a.MessageID, f.SessionID, a.SessionID)
	case f.ClientMessageID != a.ClientMessageID:
		return fmt.Errorf("answer %s: frame with clientMessageId %q in an answer with %q", a.MessageID, f.ClientMessageID, a.ClientMessageID)
	}
	return nil
}

func (a *Answer) take(f Frame) {
	a.Frames = append(a.Frames, f)
	a.text.WriteString(f.Delta)
	a.Text = a.text.String()
	if f.Type != TypeDelta {
		a.Terminal = &a.Frames[len(a.Frames)-1]
	}
}

// sameFrame reports whether b repeats a: the same bytes when both were
// received, the same fields otherwise.
func sameFrame(a, b Frame) bool {
	if a.Raw != nil && b.Raw != nil {
		return bytes.Equal(a.Raw, b.Raw)
	}
	return a.Type == b.Type && a.SessionID == b.SessionID && a.MessageID == b.MessageID && a.Seq == b.Seq &&
		a.Delta == b.Delta && a.Code == b.Code && a.Message == b.Message && a.IsComplete == b.IsComplete &&
		(a.Answer == nil) == (b.Answer == nil) && (a.Answer == nil || *a.Answer == *b.Answer)
}
