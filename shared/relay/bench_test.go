package relay_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"

	"github.com/ragchat/ragchat/shared/relay"
	"github.com/ragchat/ragchat/shared/relay/relaytest"
)

// BenchmarkRelay_Throughput streams b.N deltas to one connection through
// the real SDK client and a loopback @connections endpoint; it reports the
// posts made per delta (coalescing keeps it well below 1 when deltas come
// faster than posts return).
func BenchmarkRelay_Throughput(b *testing.B) {
	e := relaytest.NewEndpoint(b)
	e.Open("c1")
	r := relay.New(e.Client(), &deleter{}, relay.Options{Logger: quiet})
	b.ReportAllocs()
	b.ResetTimer()
	s := r.Start(context.Background(), answerID, []string{"c1"})
	for range b.N {
		s.Delta(" 재료")
	}
	s.Complete()
	res := s.Wait()
	b.ReportMetric(float64(res.Posts)/float64(b.N), "posts/delta")
	b.ReportMetric(float64(res.Bytes)/float64(res.Frames), "bytes/frame")
}

// nopPoster accepts every frame at once, isolating the relay's own cost.
type nopPoster struct{}

func (nopPoster) PostToConnection(context.Context, *apigatewaymanagementapi.PostToConnectionInput,
	...func(*apigatewaymanagementapi.Options)) (*apigatewaymanagementapi.PostToConnectionOutput, error) {
	return &apigatewaymanagementapi.PostToConnectionOutput{}, nil
}

// BenchmarkStream_Delta measures the relay's own time and allocations per
// delta (producer and framing, no network) with three recipients.
func BenchmarkStream_Delta(b *testing.B) {
	r := relay.New(nopPoster{}, &deleter{}, relay.Options{Logger: quiet})
	b.ReportAllocs()
	b.ResetTimer()
	s := r.Start(context.Background(), answerID, []string{"c1", "c2", "c3"})
	for range b.N {
		s.Delta(" 재료")
	}
	s.Complete()
	res := s.Wait()
	b.ReportMetric(float64(res.Posts)/float64(b.N), "posts/delta")
}
