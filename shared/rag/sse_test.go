package rag

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// traceAnswer is the answer of the trace's RAG response, byte for byte.
const traceAnswer = "책 재료 생산과 관련된 자세한 정보는 현재 확인이 어려운 점 양해 부탁드립니다. " +
	"보다 정확한 안내를 위해 고객센터([고객센터 연락처]) 또는 관련 부서([담당 부서 연락처])로 문의해주시면 감사하겠습니다.\n"

// readerModes feed the same bytes with different read boundaries: the
// result must not depend on them.
var readerModes = []struct {
	name string
	wrap func(io.Reader) io.Reader
}{
	{"whole", func(r io.Reader) io.Reader { return r }},
	{"one-byte", iotest.OneByteReader},
	{"half", iotest.HalfReader},
}

// drain reads r to its end. The call count guard turns a loop into a
// failure instead of a hang.
func drain(t testing.TB, r *Reader, limit int) ([]Event, error) {
	t.Helper()
	var evs []Event
	for range limit + 2 {
		ev, err := r.Next()
		if err != nil {
			return evs, err
		}
		evs = append(evs, ev)
	}
	t.Fatalf("Reader.Next returned more than %d events", limit+2)
	return nil, nil
}

func answerOf(evs []Event) string {
	var b strings.Builder
	for _, ev := range evs {
		b.WriteString(ev.Delta)
	}
	return b.String()
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatalf("read testdata: %v", err)
	}
	return b
}

func ev(delta string) Event   { return Event{Delta: delta} }
func last(delta string) Event { return Event{Delta: delta, IsComplete: true} }
func data(delta string) string {
	return `data: {"sessionId": "room-1", "delta": "` + delta + `", "isComplete": false}`
}
func final(delta string) string {
	return `data: {"sessionId": "room-1", "delta": "` + delta + `", "isComplete": true}`
}
func lines(ls ...string) string  { return strings.Join(ls, "\n") + "\n" }
func crlf(ls ...string) string   { return strings.Join(ls, "\r\n") + "\r\n" }
func cr(ls ...string) string     { return strings.Join(ls, "\r") + "\r" }
func isTruncated(err error) bool { return errors.Is(err, io.ErrUnexpectedEOF) }

func TestReader_Framings(t *testing.T) {
	long := strings.Repeat("가", 100<<10) // 300 KiB in one line
	tests := []struct {
		name    string
		in      string
		want    []Event
		skipped int
		trunc   bool // ends with io.ErrUnexpectedEOF instead of io.EOF
	}{
		{"single newlines as in the trace", lines(data("a"), data("b"), "data: [DONE]"),
			[]Event{ev("a"), ev("b")}, 0, false},
		{"blank lines between events", lines(data("a"), "", data("b"), "", "data: [DONE]", ""),
			[]Event{ev("a"), ev("b")}, 0, false},
		{"CRLF single", crlf(data("a"), data("b"), "data: [DONE]"),
			[]Event{ev("a"), ev("b")}, 0, false},
		{"CRLF blank lines", crlf(data("a"), "", data("b"), "", "data: [DONE]", ""),
			[]Event{ev("a"), ev("b")}, 0, false},
		{"CR only single", cr(data("a"), data("b"), "data: [DONE]"),
			[]Event{ev("a"), ev("b")}, 0, false},
		{"CR only blank lines", cr(data("a"), "", data("b"), "", "data: [DONE]", ""),
			[]Event{ev("a"), ev("b")}, 0, false},
		{"mixed line ends", data("a") + "\r\n" + data("b") + "\r" + data("c") + "\n\r\n" + "data: [DONE]\r",
			[]Event{ev("a"), ev("b"), ev("c")}, 0, false},
		{"data without the space", lines(`data:{"delta":"a","isComplete":false}`, `data:[DONE]`),
			[]Event{ev("a")}, 0, false},
		{"data with two spaces", lines(`data:  {"delta":"a"}`, "data:  [DONE]"),
			[]Event{ev("a")}, 0, false},
		{"comments and keep-alives ignored", lines(": ping", data("a"), ":", ": keep-alive", data("b"), "data: [DONE]"),
			[]Event{ev("a"), ev("b")}, 0, false},
		{"event id retry and unknown fields ignored",
			lines("event: message", "id: 1", "retry: 3000", data("a"), "", "event: message", "id: 2", "foo: bar", "baz", data("b"), "", "data: [DONE]"),
			[]Event{ev("a"), ev("b")}, 0, false},
		{"leading BOM dropped", "\xEF\xBB\xBF" + lines(data("a"), "data: [DONE]"),
			[]Event{ev("a")}, 0, false},
		{"last line without newline is an event", lines(data("a")) + final("b"),
			[]Event{ev("a"), last("b")}, 0, false},
		{"last line DONE without newline", lines(data("a")) + "data: [DONE]",
			[]Event{ev("a")}, 0, false},
		{"DONE ends the stream and what follows is not read", lines(data("a"), "data: [DONE]", data("b"), "garbage"),
			[]Event{ev("a")}, 0, false},
		{"isComplete with text delivers the text and ends", lines(data("a"), final("b. "), data("c"), "data: [DONE]"),
			[]Event{ev("a"), last("b. ")}, 0, false},
		{"isComplete without DONE", lines(data("a"), final("")),
			[]Event{ev("a"), last("")}, 0, false},
		{"empty deltas passed through", lines(data(""), data("a"), data(""), "data: [DONE]"),
			[]Event{ev(""), ev("a"), ev("")}, 0, false},
		{"escapes decoded", lines(`data: {"delta":"\"q\"\n\u0041\t\\"}`, "data: [DONE]"),
			[]Event{ev("\"q\"\nA\t\\")}, 0, false},
		{"invalid UTF-8 becomes U+FFFD", lines("data: {\"delta\":\"a\xffb\"}", "data: [DONE]"),
			[]Event{ev("a\uFFFDb")}, 0, false},
		{"malformed lines among good ones are skipped and counted",
			lines(data("a"), "data: {not json", data("b"), "data: oops", "data: {\"delta\":", data("c"), "data: [DONE]"),
			[]Event{ev("a"), ev("b"), ev("c")}, 3, false},
		{"payloads that are not event objects are skipped",
			lines(`data: "text"`, "", `data: 42`, "", `data: null`, "", `data: [1]`, "", `data: {"delta": 5}`, "",
				`data: {"isComplete": "yes"}`, "", `data: {"delta":"a"} {"delta":"b"}`, "", data("ok"), "data: [DONE]"),
			[]Event{ev("ok")}, 7, false},
		{"empty data keep-alives are not counted", lines("data:", "", "data", "", "data: ", "", data("a"), "data: [DONE]"),
			[]Event{ev("a")}, 0, false},
		{"multi-line data joined per the spec",
			lines(`data: {"sessionId": "room-1",`, `data: "delta": "a",`, `data: "isComplete": false}`, "", data("b"), "", "data: [DONE]", ""),
			[]Event{ev("a"), ev("b")}, 0, false},
		{"multi-line data with CRLF",
			crlf(`data: {"delta":`, `data: "a"}`, "", "data: [DONE]", ""),
			[]Event{ev("a")}, 0, false},
		{"multi-line data with CR only",
			cr(`data: {"delta":`, `data: "a"}`, "", "data: [DONE]", ""),
			[]Event{ev("a")}, 0, false},
		{"multi-line data ended by a complete line",
			lines(`data: {"delta":`, `data: "a"}`, data("b"), "data: [DONE]"),
			[]Event{ev("a"), ev("b")}, 0, false},
		{"multi-line data ended by DONE", lines(`data: {"delta":`, `data: "a"}`, "data: [DONE]"),
			[]Event{ev("a")}, 0, false},
		{"multi-line final event ended by a complete line",
			lines(`data: {"delta":"a",`, `data: "isComplete":true}`, data("b"), "data: [DONE]"),
			[]Event{last("a")}, 0, false},
		{"multi-line data ended by EOF", lines(`data: {"delta":"a",`, `data: "isComplete":true}`),
			[]Event{last("a")}, 0, false},
		{"broken multi-line data skipped with each of its lines", lines(`data: {"delta":`, `data: nope`, "", data("b"), "data: [DONE]"),
			[]Event{ev("b")}, 2, false},
		{"several JSON lines in one spec event are each events", lines(data("a"), data("b"), "", "data: [DONE]", ""),
			[]Event{ev("a"), ev("b")}, 0, false},
		{"line longer than 64 KiB", lines(data(long), "data: [DONE]"),
			[]Event{ev(long)}, 0, false},
		{"EOF before DONE", lines(data("a"), data("b")),
			[]Event{ev("a"), ev("b")}, 0, true},
		{"EOF mid-line before DONE", lines(data("a")) + `data: {"delta":"b`,
			[]Event{ev("a")}, 1, true},
		{"empty stream", "", nil, 0, true},
		{"only comments", lines(": ping", ": ping"), nil, 0, true},
	}
	for _, tt := range tests {
		for _, m := range readerModes {
			t.Run(tt.name+"/"+m.name, func(t *testing.T) {
				r := NewReader(m.wrap(strings.NewReader(tt.in)))
				evs, err := drain(t, r, len(tt.in))
				if len(evs) != len(tt.want) {
					t.Fatalf("got %d events %+v, want %d %+v", len(evs), evs, len(tt.want), tt.want)
				}
				for i := range evs {
					if evs[i] != tt.want[i] {
						t.Errorf("event %d = %+v, want %+v", i, evs[i], tt.want[i])
					}
				}
				if tt.trunc != isTruncated(err) || (!tt.trunc && err != io.EOF) {
					t.Errorf("end = %v, want truncated=%v", err, tt.trunc)
				}
				if r.Skipped() != tt.skipped {
					t.Errorf("Skipped() = %d, want %d", r.Skipped(), tt.skipped)
				}
				if _, again := r.Next(); again != err {
					t.Errorf("Next after the end = %v, want the same %v", again, err)
				}
			})
		}
	}
}

func TestReader_TraceResponseReplayedVerbatim(t *testing.T) {
	raw := readTestdata(t, "trace-response.txt")
	for _, m := range readerModes {
		t.Run(m.name, func(t *testing.T) {
			r := NewReader(m.wrap(bytes.NewReader(raw)))
			evs, err := drain(t, r, len(raw))
			if err != io.EOF {
				t.Fatalf("end = %v, want io.EOF after [DONE]", err)
			}
			if got := answerOf(evs); got != traceAnswer {
				t.Errorf("answer = %q, want %q", got, traceAnswer)
			}
			if len(evs) != 56 || evs[55] != last("") || evs[54] != ev("\n") {
				t.Errorf("got %d events ending %+v, want 56 ending with \"\\n\" and an empty isComplete", len(evs), evs[len(evs)-2:])
			}
			if r.Skipped() != 0 {
				t.Errorf("Skipped() = %d, want 0", r.Skipped())
			}
		})
	}
}

// The trace's Content-Length (4321) is 57 bytes more than its 57 lines
// as printed: the wire had some other framing. Every plausible one gives
// the same answer.
func TestReader_TraceInEveryFraming(t *testing.T) {
	raw := string(readTestdata(t, "trace-response.txt"))
	framings := map[string]string{
		"CRLF":              strings.ReplaceAll(raw, "\n", "\r\n"),
		"CR":                strings.ReplaceAll(raw, "\n", "\r"),
		"blank lines":       strings.ReplaceAll(raw, "\n", "\n\n"),
		"CRLF blank lines":  strings.ReplaceAll(raw, "\n", "\r\n\r\n"),
		"CR blank lines":    strings.ReplaceAll(raw, "\n", "\r\r"),
		"no space":          strings.ReplaceAll(raw, "data: ", "data:"),
		"pings":             strings.ReplaceAll(raw, "\n", "\n: ping\n"),
		"no final line end": strings.TrimSuffix(raw, "\n"),
	}
	for name, in := range framings {
		t.Run(name, func(t *testing.T) {
			r := NewReader(iotest.OneByteReader(strings.NewReader(in)))
			evs, err := drain(t, r, len(in))
			if err != io.EOF || answerOf(evs) != traceAnswer || r.Skipped() != 0 {
				t.Errorf("answer %q, end %v, skipped %d; want the trace answer, io.EOF, 0", answerOf(evs), err, r.Skipped())
			}
		})
	}
}

// A line end that is the last byte read must yield its event at once: the
// next byte may be seconds away.
func TestReader_EventAtReadBoundaryIsNotHeldBack(t *testing.T) {
	for _, end := range []string{"\n", "\r", "\r\n"} {
		t.Run(strings.NewReplacer("\r", "CR", "\n", "LF").Replace(end), func(t *testing.T) {
			pr, pw := io.Pipe()
			defer pr.Close()
			r := NewReader(pr)
			got := make(chan Event, 1)
			go func() {
				e, _ := r.Next()
				got <- e
			}()
			if _, err := pw.Write([]byte(data("a") + end)); err != nil {
				t.Fatal(err)
			}
			select {
			case e := <-got:
				if e != ev("a") {
					t.Fatalf("event %+v, want a", e)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("event held back until more input arrives")
			}
			go func() {
				pw.Write([]byte("\n" + data("b") + end))
				pw.Close()
			}()
			evs, err := drain(t, r, 10)
			if len(evs) != 1 || evs[0] != ev("b") || !isTruncated(err) || r.Skipped() != 0 {
				t.Errorf("then %+v, %v, skipped %d; want b, truncated, 0", evs, err, r.Skipped())
			}
		})
	}
}

func TestReader_LongLines(t *testing.T) {
	mib := strings.Repeat("x", 1<<20)
	exact := `data: {"delta":"` + strings.Repeat("y", MaxLineSize-len(`data: {"delta":""}`)) + `"}`
	tests := []struct {
		name    string
		in      string
		want    []int // delta lengths
		skipped int
	}{
		{"1 MiB delta delivered", lines(data(mib), data("a"), "data: [DONE]"), []int{1 << 20, 1}, 0},
		{"1 MiB malformed line skipped", lines(data("a"), "data: {"+mib, data("b"), "data: [DONE]"), []int{1, 1}, 1},
		{"line of exactly MaxLineSize kept", lines(exact, "data: [DONE]"), []int{MaxLineSize - len(`data: {"delta":""}`)}, 0},
		{"line over MaxLineSize discarded", lines(data("a"), exact+" ", data("b"), "data: [DONE]"), []int{1, 1}, 1},
		{"unterminated line over MaxLineSize discarded", lines(data("a")) + exact + "  ", []int{1}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewReader(strings.NewReader(tt.in))
			evs, _ := drain(t, r, len(tt.in))
			if len(evs) != len(tt.want) {
				t.Fatalf("got %d events, want %d", len(evs), len(tt.want))
			}
			for i, n := range tt.want {
				if len(evs[i].Delta) != n {
					t.Errorf("event %d has %d bytes, want %d", i, len(evs[i].Delta), n)
				}
			}
			if r.Skipped() != tt.skipped {
				t.Errorf("Skipped() = %d, want %d", r.Skipped(), tt.skipped)
			}
			if len(r.buf) > MaxLineSize+1 {
				t.Errorf("buffer grew to %d bytes, cap is %d", len(r.buf), MaxLineSize+1)
			}
		})
	}
}

// errAfter returns its data, then err.
type errAfter struct {
	data []byte
	err  error
}

func (e *errAfter) Read(p []byte) (int, error) {
	if len(e.data) == 0 {
		return 0, e.err
	}
	n := copy(p, e.data)
	e.data = e.data[n:]
	return n, nil
}

type stuckReader struct{}

func (stuckReader) Read([]byte) (int, error) { return 0, nil }

func TestReader_ReadFailures(t *testing.T) {
	boom := errors.New("connection reset")
	tests := []struct {
		name string
		src  io.Reader
		want []Event
		err  error
	}{
		{"read error after complete lines", &errAfter{[]byte(lines(data("a"), data("b"))), boom},
			[]Event{ev("a"), ev("b")}, boom},
		{"read error drops a partial line", &errAfter{[]byte(lines(data("a")) + final("b")), boom},
			[]Event{ev("a")}, boom},
		{"reader making no progress", stuckReader{}, nil, io.ErrNoProgress},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewReader(tt.src)
			evs, err := drain(t, r, 10)
			if len(evs) != len(tt.want) || !errors.Is(err, tt.err) {
				t.Fatalf("got %+v, %v; want %+v, %v", evs, err, tt.want, tt.err)
			}
			for i := range evs {
				if evs[i] != tt.want[i] {
					t.Errorf("event %d = %+v, want %+v", i, evs[i], tt.want[i])
				}
			}
		})
	}
}

func TestDecode_TakesJSONObjectsOnlyAsEncodingJSONDecodesThem(t *testing.T) {
	tests := []struct {
		in    string
		ok    bool
		delta string
		done  bool
	}{
		{`{"sessionId": "room-d2dc543d", "delta": "책", "isComplete": false}`, true, "책", false},
		{` {"delta":"a\nb\"c\u00e9","isComplete":true} `, true, "a\nb\"cé", true},
		{`{"DELTA":"x","iscomplete":true,"delta":null}`, true, "x", true},
		{`{"n":1.5e3,"o":{"a":[true,null]},"delta":"x"}`, true, "x", false},
		{`{}`, true, "", false},
		{`{"delta":5}`, false, "", false},
		{`{"isComplete":"true"}`, false, "", false},
		{`{"delta":"a",}`, false, "", false},
		{`{} x`, false, "", false},
		{`null`, false, "", false},
		{`[]`, false, "", false},
		{`"책"`, false, "", false},
		{``, false, "", false},
	}
	for _, tt := range tests {
		ev, ok := NewReader(nil).decode([]byte(tt.in))
		if ok != tt.ok || ev.Delta != tt.delta || ev.IsComplete != tt.done {
			t.Errorf("decode(%s) = %+v, %v; want %q, %v, %v", tt.in, ev, ok, tt.delta, tt.done, tt.ok)
		}
	}
}
