package ragdev

import (
	"strconv"
	"strings"
)

// eventJSON encodes one answer event exactly as the Python service does
// (json.dumps with ensure_ascii=False): keys in this order, a space after
// every ':' and ',', non-ASCII text as is.
func eventJSON(sessionID, delta string, complete bool) string {
	var b strings.Builder
	b.Grow(len(sessionID) + len(delta) + 64)
	b.WriteString(`{"sessionId": `)
	writePyString(&b, sessionID)
	b.WriteString(`, "delta": `)
	writePyString(&b, delta)
	b.WriteString(`, "isComplete": `)
	b.WriteString(strconv.FormatBool(complete))
	b.WriteByte('}')
	return b.String()
}

// writePyString writes s as a JSON string the way Python's json.dumps with
// ensure_ascii=False does: only '"', '\\' and control characters escaped.
// Invalid UTF-8 is written as U+FFFD.
func writePyString(b *strings.Builder, s string) {
	const hex = "0123456789abcdef"
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			if r < 0x20 {
				b.WriteString(`\u00`)
				b.WriteByte(hex[r>>4])
				b.WriteByte(hex[r&0xf])
			} else {
				b.WriteRune(r) // utf8.RuneError for invalid bytes
			}
		}
	}
	b.WriteByte('"')
}

// framing says how events are laid out on the wire. The zero value frames
// like the trace: "data: <json>\n" per event, no blank lines.
type framing struct {
	eol            string // line end; "" means "\n"
	blankLines     bool   // an empty line after every event
	keepalive      bool   // a ": ping" comment before every event
	fields         bool   // "retry:" first, "event:" and "id:" before every data line
	noSpace        bool   // "data:" without the space
	noFinalNewline bool   // the very last line without its line end
}

func framingFor(f Faults) framing {
	fr := framing{
		blankLines:     f.Has(FaultBlankLines),
		keepalive:      f.Has(FaultKeepalive),
		fields:         f.Has(FaultFields),
		noSpace:        f.Has(FaultNoSpace),
		noFinalNewline: f.Has(FaultNoFinalNewline),
	}
	switch {
	case f.Has(FaultCRLF):
		fr.eol = "\r\n"
	case f.Has(FaultCR):
		fr.eol = "\r"
	}
	return fr
}

func (fr framing) lineEnd() string {
	if fr.eol == "" {
		return "\n"
	}
	return fr.eol
}

// preamble is what goes before the first event.
func (fr framing) preamble() string {
	if fr.fields {
		return "retry: 3000" + fr.lineEnd()
	}
	return ""
}

// event renders one event with payload (a JSON object, a malformed line or
// "[DONE]"); id numbers the event for the fields framing; last marks the
// final line of the body.
func (fr framing) event(payload string, id int, last bool) string {
	var b strings.Builder
	eol := fr.lineEnd()
	if fr.keepalive {
		b.WriteString(": ping" + eol)
	}
	if fr.fields {
		b.WriteString("event: message" + eol + "id: " + strconv.Itoa(id) + eol)
	}
	if fr.noSpace {
		b.WriteString("data:")
	} else {
		b.WriteString("data: ")
	}
	b.WriteString(payload)
	if last && fr.noFinalNewline {
		return b.String()
	}
	b.WriteString(eol)
	if fr.blankLines {
		b.WriteString(eol)
	}
	return b.String()
}

// hugeDelta returns a valid UTF-8 text of exactly n bytes (n >= 2): a
// newline, a repeated Korean sentence padded with dots, a newline.
func hugeDelta(n int) string {
	const sentence = "대용량 응답 시험용 문장입니다. "
	var b strings.Builder
	b.Grow(n)
	b.WriteByte('\n')
	for b.Len()+len(sentence)+1 <= n {
		b.WriteString(sentence)
	}
	b.WriteString(strings.Repeat(".", n-1-b.Len()))
	b.WriteByte('\n')
	return b.String()
}
