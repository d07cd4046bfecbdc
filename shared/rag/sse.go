package rag

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
)

// MaxLineSize is the longest SSE line, and the longest multi-line data
// payload, the Reader keeps. A longer line is read through and discarded
// without being buffered (counted in Skipped), so a runaway server costs at
// most MaxLineSize+1 bytes of buffer, never unbounded memory.
const MaxLineSize = 8 << 20

const (
	initialBufSize = 4 << 10
	maxEmptyReads  = 100 // consecutive (0, nil) reads before io.ErrNoProgress, as bufio does
)

// Event is one piece of an answer.
type Event struct {
	Delta      string // the next piece of the answer text; may be empty
	IsComplete bool   // the service marked this event as the last; Delta is still part of the answer
}

// payload is the JSON of one RAG event. sessionId is not checked: the
// service echoes the request's, and the stream belongs to one request.
type payload struct {
	Delta      string `json:"delta"`
	IsComplete bool   `json:"isComplete"`
}

var (
	doneMarker = []byte("[DONE]")
	utf8BOM    = []byte("\xEF\xBB\xBF")
)

// Reader reads RAG answer events from a Server-Sent Events stream. It
// accepts what real servers send, not only the textbook:
//
//   - lines end in LF, CRLF or CR, mixed freely; a CRLF split across two
//     reads is one line end, and a line ending in CR is returned without
//     waiting for the next byte;
//   - a final line without a line end counts;
//   - "data:" with or without the space after the colon;
//   - comments (": ping") and the fields event, id and retry (and unknown
//     fields) are accepted and ignored; a leading UTF-8 BOM is dropped;
//   - lines of any length up to MaxLineSize; longer ones are discarded;
//   - "data: [DONE]" ends the stream, and so does an event with
//     "isComplete": true (its delta is returned first: it is part of the
//     answer);
//   - a payload that is not a JSON object of the event shape is skipped and
//     counted (Skipped), never fatal.
//
// Framing rule. Servers separate events either by blank lines (the SSE
// spec, where several data lines of one event are joined with "\n") or by
// single line ends (the trace: every data line is an event). The Reader
// handles both: a data line whose value is a complete payload on its own
// is an event at once. A data line that is not starts a multi-line payload
// (or continues the pending one, joined with "\n" as the spec says). The
// pending payload ends at a blank line, at a data line that is a complete
// payload on its own (that line then follows as the next event), at
// [DONE] and at the end of the input; it is then decoded as one payload
// and becomes an event, or is skipped with its lines counted. A pending
// payload that is empty or blank ("data:" keep-alives) is dropped
// silently. One bad line among single-newline events therefore costs only
// itself, and a spec server's multi-line events decode as the spec says.
//
// A Reader is not safe for concurrent use.
type Reader struct {
	src io.Reader

	buf        []byte // buf[start:end] is read but not yet consumed
	start, end int
	readErr    error // sticky error from src, seen once buf has no complete line
	skipLF     bool  // the last line ended in CR: a following LF belongs to it
	started    bool  // past the first line (BOM check)

	pending      []byte // the multi-line payload being accumulated
	pendingLines int    // data lines in pending; 0 when there is none

	queued    Event // an event decoded while flushing a pending payload
	hasQueued bool

	final   error // io.EOF once finished, or the terminal error; sticky
	skipped int
	p       payload // reused decode target
}

// NewReader returns a Reader reading the SSE stream src.
func NewReader(src io.Reader) *Reader {
	return &Reader{src: src, buf: make([]byte, initialBufSize)}
}

// Skipped reports how many lines were skipped so far: the data lines of
// malformed payloads and lines over MaxLineSize.
func (r *Reader) Skipped() int { return r.skipped }

// Next returns the next event, empty deltas included. It returns io.EOF
// after "data: [DONE]" or after returning an event with IsComplete set; an
// error wrapping io.ErrUnexpectedEOF when the input ends before either; a
// wrapped read error when src fails. The end and errors are sticky: every
// later call returns the same.
func (r *Reader) Next() (Event, error) {
	if r.hasQueued {
		r.hasQueued = false
		return r.emit(r.queued), nil
	}
	if r.final != nil {
		return Event{}, r.final
	}
	for {
		line, tooLong, err := r.readLine()
		if err != nil {
			if err == io.EOF {
				r.final = fmt.Errorf("sse: stream ended before [DONE] or isComplete: %w", io.ErrUnexpectedEOF)
				if ev, ok := r.flush(); ok {
					return r.emit(ev), nil
				}
				return Event{}, r.final
			}
			r.final = fmt.Errorf("sse: read: %w", err)
			return Event{}, r.final
		}
		if !r.started {
			r.started = true
			line = bytes.TrimPrefix(line, utf8BOM)
		}
		if tooLong {
			r.skipped++
			continue
		}
		if len(line) == 0 {
			if ev, ok := r.flush(); ok {
				return r.emit(ev), nil
			}
			continue
		}
		value, isData := dataValue(line)
		if !isData {
			continue
		}
		if bytes.Equal(bytes.TrimSpace(value), doneMarker) {
			r.final = io.EOF
			if ev, ok := r.flush(); ok {
				return r.emit(ev), nil
			}
			return Event{}, io.EOF
		}
		if ev, ok := r.decode(value); ok {
			if pev, pok := r.flush(); pok {
				r.queued, r.hasQueued = ev, true
				return r.emit(pev), nil
			}
			return r.emit(ev), nil
		}
		r.appendPending(value)
	}
}

// emit finishes the stream after an isComplete event.
func (r *Reader) emit(ev Event) Event {
	if ev.IsComplete {
		r.final = io.EOF
		r.hasQueued = false
	}
	return ev
}

// dataValue returns the value of a data field line, with the one optional
// space after the colon removed. Comments and other fields give false.
func dataValue(line []byte) ([]byte, bool) {
	colon := bytes.IndexByte(line, ':')
	if colon < 0 {
		// A field name alone: "data" is a data line with an empty value.
		return nil, string(line) == "data"
	}
	if string(line[:colon]) != "data" {
		return nil, false
	}
	value := line[colon+1:]
	if len(value) > 0 && value[0] == ' ' {
		value = value[1:]
	}
	return value, true
}

// appendPending adds a data line to the pending payload, joined with "\n".
// A payload that would outgrow MaxLineSize is skipped (its lines counted)
// and accumulation restarts with this line.
func (r *Reader) appendPending(value []byte) {
	if r.pendingLines > 0 && len(r.pending)+1+len(value) > MaxLineSize {
		r.skipped += r.pendingLines
		r.pendingLines = 0
	}
	if r.pendingLines > 0 {
		r.pending = append(r.pending, '\n')
	} else {
		r.pending = r.pending[:0]
	}
	r.pending = append(r.pending, value...)
	r.pendingLines++
}

// flush ends the pending payload: its event, or false when there is none
// or it is skipped (all its lines counted).
func (r *Reader) flush() (Event, bool) {
	n := r.pendingLines
	if n == 0 {
		return Event{}, false
	}
	r.pendingLines = 0
	if len(bytes.TrimSpace(r.pending)) == 0 {
		return Event{}, false
	}
	ev, ok := r.decode(r.pending)
	if !ok {
		r.skipped += n
	}
	return ev, ok
}

// decode parses a payload: a JSON object whose delta (if present) is a
// string and isComplete (if present) a boolean, decoded by encoding/json
// into payload. Anything else is false. (A hand-written decoder of the
// common shape was 4x faster per event in isolation but made no
// difference to the function's CPU per answer: docs/benchmarks.md.)
func (r *Reader) decode(b []byte) (Event, bool) {
	if b = bytes.TrimLeft(b, " \t\r\n"); len(b) == 0 || b[0] != '{' {
		return Event{}, false
	}
	r.p = payload{}
	if err := json.Unmarshal(b, &r.p); err != nil {
		return Event{}, false
	}
	return Event{Delta: r.p.Delta, IsComplete: r.p.IsComplete}, true
}

// readLine returns the next line without its line end; the slice is valid
// until the next call. A line longer than MaxLineSize is consumed without
// being kept and reported as tooLong. At io.EOF a final unterminated line
// is returned before the error. Other read errors are returned as soon as
// no complete line is buffered; a partial line before them is dropped.
func (r *Reader) readLine() (line []byte, tooLong bool, err error) {
	scanned := 0 // bytes of buf[start:end] known to hold no line end
	for {
		if r.skipLF && r.start < r.end {
			if r.buf[r.start] == '\n' {
				r.start++
			}
			r.skipLF = false
		}
		if i := indexLineEnd(r.buf[r.start+scanned : r.end]); i >= 0 {
			i += r.start + scanned
			line = r.buf[r.start:i]
			if r.buf[i] == '\r' {
				if i+1 < r.end {
					if r.buf[i+1] == '\n' {
						i++
					}
				} else {
					r.skipLF = true
				}
			}
			r.start = i + 1
			if tooLong {
				return nil, true, nil
			}
			return line, false, nil
		}
		scanned = r.end - r.start
		if r.readErr != nil {
			if r.readErr == io.EOF && (scanned > 0 || tooLong) {
				line = r.buf[r.start:r.end]
				r.start = r.end
				if tooLong {
					return nil, true, nil
				}
				return line, false, nil
			}
			r.start = r.end
			return nil, false, r.readErr
		}
		if scanned > MaxLineSize {
			tooLong = true
			r.start, r.end, scanned = 0, 0, 0
		}
		r.fill()
	}
}

// fill reads more input into buf, first moving the unconsumed bytes to the
// front and growing buf (up to MaxLineSize+1) when it is full.
func (r *Reader) fill() {
	if r.start > 0 {
		r.end = copy(r.buf, r.buf[r.start:r.end])
		r.start = 0
	}
	if r.end == len(r.buf) {
		grown := make([]byte, min(2*len(r.buf), MaxLineSize+1))
		copy(grown, r.buf[:r.end])
		r.buf = grown
	}
	for range maxEmptyReads {
		n, err := r.src.Read(r.buf[r.end:])
		r.end += n
		if err != nil {
			r.readErr = err
			return
		}
		if n > 0 {
			return
		}
	}
	r.readErr = io.ErrNoProgress
}

// indexLineEnd returns the index of the first CR or LF in b, or -1.
func indexLineEnd(b []byte) int {
	lf := bytes.IndexByte(b, '\n')
	if lf < 0 {
		lf = len(b)
	}
	if cr := bytes.IndexByte(b[:lf], '\r'); cr >= 0 {
		return cr
	}
	if lf == len(b) {
		return -1
	}
	return lf
}
