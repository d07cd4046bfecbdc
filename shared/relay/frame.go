package relay

import (
	"strconv"
	"unicode/utf8"
)

// MaxFrameBytes is the largest frame the relay sends: API Gateway's
// websocket frame limit of 32 KB, counted over the whole JSON frame.
const MaxFrameBytes = 32 * 1024

// Frame types of the envelope ("type" key).
const (
	TypeDelta    = "delta"
	TypeComplete = "complete"
	TypeError    = "error"
)

// envelopeRoom is what a frame needs besides its two ids: the longest
// envelope literal, a seq of up to 19 digits and one escaped rune, rounded
// up. A framer's limit is never below the ids plus this, so every frame
// carries at least one rune and the stream always progresses.
const envelopeRoom = 256

// ending is how an answer ended: Code is empty for a complete answer,
// otherwise the error code and its client-facing message.
type ending struct {
	Code    string
	Message string
	// answerLen is the escaped length of the whole answer (complete only),
	// computed once per stream so that each connection can tell whether the
	// answer fits in its complete frame.
	answerLen int
}

// framer turns the growing answer text into the frames of one connection.
// It is the coalescer: each call to next takes everything not yet framed
// (up to the frame limit) into one frame, so a connection that was busy
// gets the deltas that arrived meanwhile merged. Its seq counts this
// connection's frames: 1, 2, 3, ... without gaps.
type framer struct {
	session []byte // sessionId as a JSON string, quotes included
	message []byte // messageId as a JSON string, quotes included
	client  []byte // `,"clientMessageId":"…"` when the question had one, else empty
	limit   int    // maximum frame size in bytes
	seq     int    // seq of the last frame produced
	sent    int    // bytes of the answer already framed
}

func newFramer(sessionID, messageID string, limit int) framer {
	return newAnswerFramer(Answer{SessionID: sessionID, MessageID: messageID}, limit)
}

// newAnswerFramer is newFramer for an answer whose frames also carry its
// question's clientMessageId (when it has one).
func newAnswerFramer(a Answer, limit int) framer {
	f := framer{
		session: appendJSONString(nil, a.SessionID),
		message: appendJSONString(nil, a.MessageID),
	}
	if a.ClientMessageID != "" {
		f.client = appendJSONString([]byte(`,"clientMessageId":`), a.ClientMessageID)
	}
	f.limit = max(limit, len(f.session)+len(f.message)+len(f.client)+envelopeRoom)
	return f
}

// next appends to dst the next frame for this connection, given the answer
// text so far and its ending (nil while the answer goes on). ok is false
// when there is nothing to send yet; terminal is true for the complete or
// error frame, after which next must not be called again.
func (f *framer) next(dst, text []byte, end *ending) (frame []byte, terminal, ok bool) {
	if !f.ready(text, end) {
		return dst, false, false
	}
	pending := text[f.sent:]
	if end == nil {
		pending = wholeRunes(pending)
	}
	seq := f.seq + 1
	if end != nil && end.Code == "" {
		if frame, ok := f.complete(dst, seq, text, pending, end); ok {
			f.seq, f.sent = seq, len(text)
			return frame, true, true
		}
	}
	if end != nil && end.Code != "" && len(pending) == 0 {
		f.seq = seq
		return f.errorFrame(dst, seq, end), true, true
	}
	frame, n := f.delta(dst, seq, pending)
	f.seq, f.sent = seq, f.sent+n
	return frame, false, true
}

// ready reports whether next has a frame to give for the answer text so
// far and its ending: once the answer ended, always; before, when text
// holds a whole rune not yet framed (a rune split across deltas waits for
// its last bytes).
func (f *framer) ready(text []byte, end *ending) bool {
	return end != nil || len(wholeRunes(text[f.sent:])) > 0
}

// delta builds a delta frame carrying the longest prefix of pending that
// fits, cut on a rune boundary, and reports how many bytes it carries.
func (f *framer) delta(dst []byte, seq int, pending []byte) ([]byte, int) {
	start := len(dst)
	dst = f.head(dst, TypeDelta, seq)
	dst = append(dst, `,"delta":"`...)
	const tail = `","isComplete":false}`
	dst, n := appendEscapedPrefix(dst, pending, f.limit-(len(dst)-start)-len(tail))
	return append(dst, tail...), n
}

// complete builds the complete frame carrying all of pending, and the whole
// answer when it fits too; ok is false when pending alone does not fit.
func (f *framer) complete(dst []byte, seq int, text, pending []byte, end *ending) ([]byte, bool) {
	start := len(dst)
	dst = f.head(dst, TypeComplete, seq)
	dst = append(dst, `,"delta":"`...)
	const tail = `","isComplete":true}`
	const answerKey = `","isComplete":true,"answer":"`
	dst, n := appendEscapedPrefix(dst, pending, f.limit-(len(dst)-start)-len(tail))
	if n < len(pending) {
		return dst[:start], false
	}
	if len(dst)-start+len(answerKey)+end.answerLen+len(`"}`) <= f.limit {
		dst = append(dst, answerKey...)
		dst = appendJSONContent(dst, text)
		return append(dst, `"}`...), true
	}
	return append(dst, tail...), true
}

// errorFrame builds the error frame; a message too long for the frame is
// cut on a rune boundary.
func (f *framer) errorFrame(dst []byte, seq int, end *ending) []byte {
	start := len(dst)
	dst = f.head(dst, TypeError, seq)
	dst = append(dst, `,"code":`...)
	dst = appendJSONString(dst, end.Code)
	dst = append(dst, `,"message":"`...)
	const tail = `","isComplete":true}`
	dst, _ = appendEscapedPrefix(dst, []byte(end.Message), f.limit-(len(dst)-start)-len(tail))
	return append(dst, tail...)
}

func (f *framer) head(dst []byte, typ string, seq int) []byte {
	dst = append(dst, `{"type":"`...)
	dst = append(dst, typ...)
	dst = append(dst, `","sessionId":`...)
	dst = append(dst, f.session...)
	dst = append(dst, `,"messageId":`...)
	dst = append(dst, f.message...)
	dst = append(dst, f.client...)
	dst = append(dst, `,"seq":`...)
	return strconv.AppendInt(dst, int64(seq), 10)
}

// wholeRunes cuts from p a trailing rune that is not complete yet.
func wholeRunes(p []byte) []byte {
	for i := len(p) - 1; i >= 0 && i >= len(p)-utf8.UTFMax; i-- {
		if utf8.RuneStart(p[i]) {
			if !utf8.FullRune(p[i:]) {
				return p[:i]
			}
			break
		}
	}
	return p
}

// appendJSONString appends s as a quoted JSON string.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	dst = appendJSONContent(dst, []byte(s))
	return append(dst, '"')
}

// appendJSONContent appends the JSON string escaping of s, without quotes.
func appendJSONContent(dst, s []byte) []byte {
	dst, _ = appendEscapedPrefix(dst, s, int(^uint(0)>>1))
	return dst
}

// escapedLen is the length of the JSON string escaping of s, without quotes.
func escapedLen(s []byte) int {
	n := 0
	for i := 0; i < len(s); {
		size, esc := escapeUnit(s[i:])
		n += esc
		i += size
	}
	return n
}

const hexDigits = "0123456789abcdef"

// appendEscapedPrefix appends the JSON escaping of the longest prefix of s
// (whole runes only) whose escaped form fits in budget bytes, and reports
// how many bytes of s it consumed. The escaping is that of encoding/json
// without HTML escaping: quote, backslash and control characters escaped,
// U+2028 and U+2029 escaped, each invalid UTF-8 byte written as \ufffd.
func appendEscapedPrefix(dst, s []byte, budget int) ([]byte, int) {
	i := 0
	for i < len(s) {
		// Copy a run of bytes that need no escaping in one append.
		j := i
		for j < len(s) && j-i < budget && s[j] >= 0x20 && s[j] != '"' && s[j] != '\\' && s[j] < utf8.RuneSelf {
			j++
		}
		if j > i {
			dst = append(dst, s[i:j]...)
			budget -= j - i
			i = j
			continue
		}
		size, esc := escapeUnit(s[i:])
		if esc > budget {
			break
		}
		budget -= esc
		if esc == size {
			dst = append(dst, s[i:i+size]...)
		} else {
			dst = appendEscape(dst, s[i:i+size])
		}
		i += size
	}
	return dst, i
}

// escapeUnit reports the size in s of its first unit (a rune, or one
// invalid byte) and the length of that unit's JSON escaping.
func escapeUnit(s []byte) (size, escaped int) {
	c := s[0]
	if c < utf8.RuneSelf {
		switch {
		case c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t':
			return 1, 2
		case c < 0x20:
			return 1, 6
		}
		return 1, 1
	}
	r, size := utf8.DecodeRune(s)
	switch {
	case r == utf8.RuneError && size == 1:
		return 1, 6
	case r == '\u2028' || r == '\u2029':
		return size, 6
	}
	return size, size
}

// appendEscape appends the escape sequence of one unit that needs one.
func appendEscape(dst, unit []byte) []byte {
	switch c := unit[0]; {
	case c == '"' || c == '\\':
		return append(dst, '\\', c)
	case c == '\n':
		return append(dst, '\\', 'n')
	case c == '\r':
		return append(dst, '\\', 'r')
	case c == '\t':
		return append(dst, '\\', 't')
	case c < 0x20:
		return append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
	}
	r, size := utf8.DecodeRune(unit)
	if r == utf8.RuneError && size == 1 {
		return append(dst, `\ufffd`...)
	}
	return append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
}
