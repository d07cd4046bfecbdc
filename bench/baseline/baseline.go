// Package baseline is the relay the benchmarks compare ragchat's coalescing
// relay with: the approach of aws-samples/bedrock-chat, where the websocket
// Lambda reads the model's stream and makes one synchronous
// PostToConnection per chunk, reading the next chunk only after the post
// returned.
//
// It is the message handler itself (functions/message/handler) with only
// its relay different. New sets the handler's Feed to OnePostPerDelta and
// turns the frame floor off: every RAG delta becomes one frame, posted to
// every recipient before the next delta is read (a delta's recipients are
// posted to at once, one sender each, as the relay does). Everything else
// is the real handler's: the same DynamoDB work, history, limits, routing,
// frame envelope and endings, so the benchmarks compare the relays and
// nothing else.
package baseline

import (
	"github.com/ragchat/ragchat/functions/message/handler"
	"github.com/ragchat/ragchat/shared/relay"
)

// New makes h the one-post-per-delta competitor and returns it.
func New(h *handler.Handler) *handler.Handler {
	h.Feed = OnePostPerDelta
	h.Relay.MinFrameInterval = 0 // no floor: each delta goes out as it comes
	return h
}

// OnePostPerDelta feeds an answer's stream one delta at a time: Delta
// returns once every recipient's post of the delta returned
// (relay.Stream.WaitSent), so no two deltas share a frame.
func OnePostPerDelta(s *relay.Stream) handler.Deltas { return synchronous{s} }

type synchronous struct{ *relay.Stream }

func (s synchronous) Delta(text string) {
	s.Stream.Delta(text)
	s.WaitSent()
}
