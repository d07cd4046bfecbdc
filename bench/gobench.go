package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"

	"github.com/ragchat/ragchat/bench/baseline"
	"github.com/ragchat/ragchat/functions/message/handler"
	"github.com/ragchat/ragchat/shared/rag"
	"github.com/ragchat/ragchat/shared/relay"
)

// sseSource is an endless SSE body in the trace's framing: one event per
// line, Korean deltas, generated into the reader's buffer without
// allocating.
type sseSource struct {
	i    int
	line []byte
	left []byte
}

func (s *sseSource) Read(p []byte) (int, error) {
	if len(s.left) == 0 {
		s.line = append(s.line[:0], `data: {"sessionId": "room-d2dc543d", "delta": "`...)
		s.line = append(s.line, koreanPieces[s.i%len(koreanPieces)]...)
		s.line = append(s.line, `", "isComplete": false}`+"\n"...)
		s.i++
		s.left = s.line
	}
	n := copy(p, s.left)
	s.left = s.left[n:]
	return n, nil
}

// countingPoster accepts every post at once and counts them.
type countingPoster struct {
	posts, bytes atomic.Int64
}

func (c *countingPoster) PostToConnection(_ context.Context, in *apigatewaymanagementapi.PostToConnectionInput,
	_ ...func(*apigatewaymanagementapi.Options)) (*apigatewaymanagementapi.PostToConnectionOutput, error) {
	c.posts.Add(1)
	c.bytes.Add(int64(len(in.Data)))
	return &apigatewaymanagementapi.PostToConnectionOutput{}, nil
}

type noDeleter struct{}

func (noDeleter) DeleteConnection(context.Context, string) error { return nil }

var quietLog = slog.New(slog.DiscardHandler)

// CoalescingPath measures, per RAG event, the message function's
// relay path without network: the SSE reader, the coalescing relay with
// the given frame floor and its framer, to one connection whose posts
// return at once. It reports posts per delta.
func CoalescingPath(floor time.Duration) func(b *testing.B) {
	return relayPath(floor, nil)
}

// OnePostPerDeltaPath measures the one-post-per-delta competitor's path
// per RAG event: the same, with the baseline's feed (each delta waits for
// its post) and no floor.
func OnePostPerDeltaPath(b *testing.B) { relayPath(0, baseline.OnePostPerDelta)(b) }

// relayPath is the relay path with the given floor, the deltas fed
// through feed (nil: to the stream itself, as the message function does).
func relayPath(floor time.Duration, feed func(*relay.Stream) handler.Deltas) func(b *testing.B) {
	return func(b *testing.B) {
		p := &countingPoster{}
		r := relay.New(p, noDeleter{}, relay.Options{MinFrameInterval: floor, Logger: quietLog})
		rd := rag.NewReader(&sseSource{})
		b.ReportAllocs()
		b.ResetTimer()
		s := r.Start(context.Background(), relay.Answer{SessionID: "room-d2dc543d", MessageID: "m-0123456789abcdef"}, []string{"c1"})
		var deltas handler.Deltas = s
		if feed != nil {
			deltas = feed(s)
		}
		for range b.N {
			ev, err := rd.Next()
			if err != nil {
				b.Fatal(err)
			}
			deltas.Delta(ev.Delta)
		}
		s.Complete()
		s.Wait()
		b.StopTimer()
		b.ReportMetric(float64(p.posts.Load())/float64(b.N), "posts/delta")
	}
}

// GoBenchmarks runs the path benchmarks in process and tabulates them.
func GoBenchmarks(log io.Writer) *Table {
	t := &Table{Header: []string{"path (per RAG event, no network)", "ns/delta", "B/delta", "allocs/delta", "posts/delta", "deltas"}}
	cases := []struct {
		name string
		f    func(b *testing.B)
	}{
		{"coalescing relay, MIN_FRAME_INTERVAL=0", CoalescingPath(0)},
		{"coalescing relay, MIN_FRAME_INTERVAL=50ms (template default)", CoalescingPath(50 * time.Millisecond)},
		{"one-post-per-delta (each delta waits for its post)", OnePostPerDeltaPath},
	}
	for _, c := range cases {
		r := testing.Benchmark(c.f)
		fmt.Fprintf(log, "  go bench %s: %s\n", c.name, r.String())
		t.Add(c.name, strconv.FormatInt(r.NsPerOp(), 10), strconv.FormatInt(r.AllocedBytesPerOp(), 10),
			strconv.FormatInt(r.AllocsPerOp(), 10), fmt.Sprintf("%.3f", r.Extra["posts/delta"]), r.N)
	}
	return t
}
