package handler

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParseSendMessage checks the websocket message decoder on arbitrary
// bodies: it never panics, and what it accepts satisfies every rule.
func FuzzParseSendMessage(f *testing.F) {
	for _, seed := range []string{
		ask(traceQuestion), ask(""), ask(" \n "), `{"action":"sendMessage","message":42}`, `[]`, `null`, ``,
		"{\"message\":\"\xff\"}", `{"message":"a\u0000b"}`, `{"message":"ok","category1":"\u0085"}`, ask("hi") + `{}`,
	} {
		f.Add(seed, false)
	}
	f.Add("eyJtZXNzYWdlIjoiaGkifQ==", true)
	f.Fuzz(func(t *testing.T, body string, isBase64 bool) {
		q, rej := parseSendMessage(body, isBase64)
		if rej != nil {
			if rej.Code != CodeInvalidMessage || rej.Message == "" {
				t.Fatalf("rejection %+v", rej)
			}
			return
		}
		switch {
		case q.Message == "" || q.Message != strings.TrimSpace(q.Message):
			t.Fatalf("accepted message %q is blank or untrimmed", q.Message)
		case !utf8.ValidString(q.Message) || utf8.RuneCountInString(q.Message) > MaxMessageRunes:
			t.Fatalf("accepted message of %d runes (valid %v)", utf8.RuneCountInString(q.Message), utf8.ValidString(q.Message))
		case hasControl(q.Message, "\t\n\r") || hasControl(q.Category1, "") || hasControl(q.Category2, ""):
			t.Fatalf("accepted control characters: %+v", q)
		case hasBidiControl(q.Message) || hasFormat(q.Category1) || hasFormat(q.Category2) || hasFormat(q.ClientMessageID):
			t.Fatalf("accepted bidi controls or format characters: %+q", q)
		}
		if rej := parseDefault(body, isBase64); rej == nil || (rej.Code != CodeUnknownAction && rej.Code != CodeInvalidMessage) {
			t.Fatalf("$default rejection %+v", rej)
		}
	})
}
