package rag

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf8"
)

// FuzzReader checks the Reader on arbitrary bytes and on well-formed
// streams built from an arbitrary answer.
//
// On data: Next never panics and never loops (each call consumes input or
// ends), the result does not depend on read boundaries (whole input versus
// one byte per read), deltas are valid UTF-8, nothing follows an
// isComplete event, and the end is sticky.
//
// On answer: the answer is cut into deltas at rune boundaries chosen by
// cuts, framed as style says (line ends, blank lines, "data:" spacing,
// keep-alives, multi-line payloads, [DONE] or a final isComplete event
// carrying text, a final line end or not) and the deltas read back must
// concatenate to exactly the answer, with nothing skipped.
func FuzzReader(f *testing.F) {
	f.Add(readTestdata(f, "trace-response.txt"), traceAnswer, uint64(0x5555), uint8(0))
	f.Add([]byte(cr(data("a"), "", `data:{"delta":`, `data: "b"}`, "", "data: [DONE]")), "책 재료\n", uint64(1), uint8(0x81))
	f.Add([]byte(crlf(": ping", "event: x", "id: 1", "retry: 10", data("a"), "data: {oops", final("b"))), "a\r\nb", uint64(0xff), uint8(0x3e))
	f.Add([]byte("\xEF\xBB\xBF"+lines(`data: {"delta":"\u00e9\n","isComplete":false}`, `data: [1]`, "data", "")), "", uint64(0), uint8(0x62))
	f.Add([]byte("data: {\"delta\":\"a\"}\r"), "\xff<&>\u2028", uint64(0xffffffffffffffff), uint8(0x27))
	f.Fuzz(func(t *testing.T, in []byte, answer string, cuts uint64, style uint8) {
		checkArbitrary(t, in)
		checkRoundTrip(t, answer, cuts, style)
	})
}

func checkArbitrary(t *testing.T, in []byte) {
	whole := NewReader(bytes.NewReader(in))
	evs, err := drain(t, whole, len(in))
	byteWise := NewReader(iotest.OneByteReader(bytes.NewReader(in)))
	evs1, err1 := drain(t, byteWise, len(in))
	if len(evs) != len(evs1) || err.Error() != err1.Error() || whole.Skipped() != byteWise.Skipped() {
		t.Fatalf("read boundaries change the result: %+v %v %d versus %+v %v %d",
			evs, err, whole.Skipped(), evs1, err1, byteWise.Skipped())
	}
	for i, e := range evs {
		if e != evs1[i] {
			t.Fatalf("event %d: %+v whole, %+v byte-wise", i, e, evs1[i])
		}
		if !utf8.ValidString(e.Delta) {
			t.Fatalf("event %d delta %q is not valid UTF-8", i, e.Delta)
		}
		if e.IsComplete && i != len(evs)-1 {
			t.Fatalf("event %d is complete but %d follow", i, len(evs)-1-i)
		}
	}
	if _, again := whole.Next(); again != err {
		t.Fatalf("end not sticky: %v then %v", err, again)
	}
}

func checkRoundTrip(t *testing.T, answer string, cuts uint64, style uint8) {
	answer = strings.ToValidUTF8(answer, "\uFFFD")
	var deltas []string
	start, n := 0, 0
	for i := range answer {
		if i > start && cuts&(1<<(n%64)) != 0 {
			deltas = append(deltas, answer[start:i])
			start = i
		}
		n++
	}
	if start < len(answer) {
		deltas = append(deltas, answer[start:])
	}

	eol := [...]string{"\n", "\r\n", "\r", "\n"}[style&3]
	blank := style&4 != 0 || style&0x80 != 0 // multi-line payloads need blank lines
	prefix := "data: "
	if style&8 != 0 {
		prefix = "data:"
	}
	pings := style&0x10 != 0
	finalEvent := style&0x20 != 0
	noLastEOL := style&0x40 != 0
	multiLine := style&0x80 != 0

	var b strings.Builder
	writeLine := func(s string) { b.WriteString(s + eol) }
	for i, d := range deltas {
		complete := finalEvent && i == len(deltas)-1
		p, err := json.Marshal(map[string]any{"sessionId": "room-1", "delta": d, "isComplete": complete})
		if multiLine {
			// One member per data line: no line is a payload on its own.
			p, err = json.MarshalIndent(map[string]any{"sessionId": "room-1", "delta": d, "isComplete": complete}, "", " ")
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(p), "\n") {
			writeLine(prefix + line)
		}
		if blank {
			writeLine("")
		}
		if pings {
			writeLine(": ping")
		}
	}
	if !finalEvent || len(deltas) == 0 {
		writeLine(prefix + "[DONE]")
	}
	stream := b.String()
	if noLastEOL {
		stream = strings.TrimSuffix(stream, eol)
	}

	for _, m := range readerModes {
		r := NewReader(m.wrap(strings.NewReader(stream)))
		evs, err := drain(t, r, len(stream))
		if err != io.EOF || answerOf(evs) != answer || r.Skipped() != 0 {
			t.Fatalf("stream %q read %s\ngave %q, end %v, skipped %d; want %q, io.EOF, 0",
				stream, m.name, answerOf(evs), err, r.Skipped(), answer)
		}
	}
}
