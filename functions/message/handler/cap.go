package handler

import (
	"unicode/utf8"

	"github.com/ragchat/ragchat/shared/store"
)

// CodeAnswerTooLong ends an answer that outgrew what one history item
// holds (store.MaxMessageTextBytes).
const CodeAnswerTooLong = "ANSWER_TOO_LONG"

// capped appends delta to s unless the answer would outgrow
// store.MaxMessageTextBytes; then it appends the part of delta that fits
// (cut on a rune boundary) and reports false: the answer must end with
// CodeAnswerTooLong. n is the answer's length so far, updated. So the
// answer held in memory, sent and stored is the same text and never more
// than an item holds.
func capped(s Deltas, n *int, delta string) bool {
	if *n+len(delta) <= store.MaxMessageTextBytes {
		*n += len(delta)
		s.Delta(delta)
		return true
	}
	fit := truncate(delta, store.MaxMessageTextBytes-*n)
	*n += len(fit)
	s.Delta(fit)
	return false
}

// truncate cuts s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
