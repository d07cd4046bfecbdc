package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	connect "github.com/ragchat/ragchat/functions/connect/handler"
	"github.com/ragchat/ragchat/internal/testkit"
	"github.com/ragchat/ragchat/shared/apigw"
	"github.com/ragchat/ragchat/shared/metrics"
	"github.com/ragchat/ragchat/shared/store"
)

// The cost of the abuse limits (issue 13), for
// `go test -run '^$' -bench Limits ./bench`: the DynamoDB requests and the
// time the limits add to a login, a $connect and a question, measured on
// the store calls the handlers make for them, against the embedded
// DynamoDB over loopback HTTP (the same server the stack runs). Each
// benchmark reports requests/op and the p50 and p99 of one operation's
// added work, in ms.

// limitsEnv is a store over fresh tables with the trace's user and room.
func limitsEnv(b *testing.B) (*store.Store, store.Tables) {
	b.Helper()
	st, tables := testkit.Store(b)
	testkit.SeedUsers(b, st, testkit.Hong2)
	if err := st.CreateRoom(context.Background(), store.Room{RoomID: "room-bench01", CompanyID: "apt001", UserID: "hong2", Members: []string{}, Status: store.RoomStatusBot}); err != nil {
		b.Fatal(err)
	}
	return st, tables
}

// measure runs op b.N times and reports requests/op, p50 and p99.
func measure(b *testing.B, tables store.Tables, op func(i int)) {
	b.Helper()
	counter := testkit.NewCounter(b, tables)
	took := make([]float64, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		op(i)
		took = append(took, ms(time.Since(start)))
	}
	b.StopTimer()
	sort.Float64s(took)
	b.ReportMetric(float64(counter.Counts().Total())/float64(b.N), "requests/op")
	b.ReportMetric(Median(took), "p50-ms")
	b.ReportMetric(Percentile(took, 99), "p99-ms")
}

// BenchmarkLimits_Login is what the lock adds to a successful login: the
// user's and the source's slots taken (in parallel, before bcrypt) and
// given back (in parallel, beside the latest-room query). The user's
// window is open (a login within 15 minutes of the last), as in a busy
// service; the first login of a window costs one conditional update more.
func BenchmarkLimits_Login(b *testing.B) {
	st, tables := limitsEnv(b)
	ctx := context.Background()
	lim := store.Window{Max: 5, Window: 15 * time.Minute}
	user, source := store.LoginUserKey("apt001", "hong2"), store.LoginSourceKey("192.0.2.1")
	both := func(f func(key string)) {
		var wg sync.WaitGroup
		wg.Go(func() { f(source) })
		f(user)
		wg.Wait()
	}
	now := time.Now()
	both(func(k string) { _, _ = st.TakeLoginSlot(ctx, k, lim, now) }) // open both windows
	_ = st.FreeLoginSlot(ctx, user)
	_ = st.FreeLoginSlot(ctx, source)
	measure(b, tables, func(int) {
		both(func(k string) {
			if sl, err := st.TakeLoginSlot(ctx, k, lim, now); err != nil || !sl.Taken {
				b.Fatalf("take %s: %+v %v", k, sl, err)
			}
		})
		var wg sync.WaitGroup
		wg.Go(func() { _ = st.FreeLoginSlot(ctx, source) })
		_ = st.FreeLoginSlot(ctx, user) // the benchmark frees rather than clears, to keep the window open
		wg.Wait()
	})
}

// BenchmarkLimits_Connect is what a $connect and its $disconnect gain,
// measured as whole handshakes through the connect handler and the
// $disconnect's store.DeleteConnection, in a room of 3 other sockets,
// with the socket cap (cap: Max 10) and without it (nocap: Max 0); both
// check the token's version against the Users item (one GetItem), so the
// limits add that and the difference between the two. With the cap a
// handshake takes a socket slot (one conditional PutItem on a random
// place; here 3 places in 10 are held, and then a BatchGetItem of the
// room's slots and a PutItem on a free one follow) and the $disconnect
// gives it back (a DeleteItem). Below the cap no @connections GET.
func BenchmarkLimits_Connect(b *testing.B) {
	for _, bc := range []struct {
		name string
		max  int
	}{{"cap", 10}, {"nocap", 0}} {
		b.Run(bc.name, func(b *testing.B) {
			st, tables := limitsEnv(b)
			ctx := context.Background()
			h := connect.New(st, testkit.Tokens(), slog.New(slog.DiscardHandler))
			h.Metrics = metrics.New(io.Discard, "")
			h.Cap = connect.Cap{Max: bc.max, Probe: func(string) connect.Prober {
				b.Fatal("the room is never full, yet @connections was asked")
				return nil
			}}
			token := testkit.Mint(b, testkit.Hong2, time.Now())
			handshake := func(id string) {
				resp, err := h.Handle(ctx, events.APIGatewayWebsocketProxyRequest{
					RequestContext:        events.APIGatewayWebsocketProxyRequestContext{RouteKey: "$connect", ConnectionID: id, Stage: "prod"},
					QueryStringParameters: map[string]string{"token": token, "roomId": "room-bench01"},
				})
				if err != nil || resp.StatusCode != 200 {
					b.Fatalf("$connect %s: %d %s %v", id, resp.StatusCode, resp.Body, err)
				}
			}
			for i := range 3 {
				handshake(fmt.Sprintf("other-%d", i))
			}
			measure(b, tables, func(i int) {
				id := fmt.Sprintf("c%d", i)
				handshake(id)
				if err := st.DeleteConnection(ctx, id); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}

// BenchmarkLimits_Question is what a question gains, measured as the
// room work of a question with the limits ("limits") and without
// ("none"). With them: a token of the user's bucket (the bucket had
// refilled: one update) with, in parallel, the socket's token version
// checked against the Users item (as functions/message/handler/revoke.go
// does); the room's answer slot taken by the write that reads the room's
// status and records its activity (store.BeginAnswer), and given back
// (EndAnswer). Without them, that write is store.TouchOpenRoom.
func BenchmarkLimits_Question(b *testing.B) {
	bucket := store.Bucket{Burst: 30, Refill: 6 * time.Second}
	id := testkit.Hong2
	for _, bc := range []struct {
		name   string
		limits bool
	}{{"limits", true}, {"none", false}} {
		b.Run(bc.name, func(b *testing.B) {
			st, tables := limitsEnv(b)
			ctx := context.Background()
			start := time.Now()
			measure(b, tables, func(i int) {
				now := start.Add(time.Duration(i) * time.Minute) // a user who reads each answer
				if !bc.limits {
					if _, err := st.TouchOpenRoom(ctx, "room-bench01", now.UnixMilli()); err != nil {
						b.Fatal(err)
					}
					return
				}
				var wg sync.WaitGroup
				var current error
				wg.Go(func() { current = apigw.Current(ctx, st, id) })
				ok, _, err := st.TakeQuestionToken(ctx, "apt001", "hong2", bucket, now)
				wg.Wait()
				if err != nil || !ok || current != nil {
					b.Fatalf("token: %v %v; version: %v", ok, err, current)
				}
				answer := store.NewMessageID()
				if _, ok, err := st.BeginAnswer(ctx, "room-bench01", answer, now.Add(2*time.Minute), now); err != nil || !ok {
					b.Fatalf("begin: %v %v", ok, err)
				}
				if err := st.EndAnswer(ctx, "room-bench01", answer); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}
