package baseline

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/ragchat/ragchat/functions/message/handler"
	"github.com/ragchat/ragchat/internal/testkit"
	"github.com/ragchat/ragchat/internal/wsclient"
	"github.com/ragchat/ragchat/local/dynamo"
	"github.com/ragchat/ragchat/shared/metrics"
	"github.com/ragchat/ragchat/shared/rag"
	"github.com/ragchat/ragchat/shared/relay"
	"github.com/ragchat/ragchat/shared/relay/relaytest"
	"github.com/ragchat/ragchat/shared/store"
)

var deltas = []string{"", "관리비는", " 매월", " 25일", "입니다."}

// sse serves deltas in the trace's framing, or answers status.
func sse(status int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if status != http.StatusOK {
			w.WriteHeader(status)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		for _, d := range deltas {
			io.WriteString(w, `data: {"sessionId": "room", "delta": "`+d+`", "isComplete": false}`+"\n")
		}
		io.WriteString(w, "data: [DONE]\n")
	})
}

// side is one handler under test, answering in a room of its own.
type side struct {
	name string
	h    *handler.Handler
	room string
}

// answer asks one question in s's room from its caller and returns what
// the caller and the peer received (checked against the client contract:
// one answer, ended, no repeats) and the room's history.
func (s side) answer(t *testing.T, st *store.Store, ep *relaytest.Endpoint) (caller, peer *wsclient.Answer, history []store.Message) {
	t.Helper()
	ctx := context.Background()
	now := time.Now()
	user := "user-" + s.room // each side its own question bucket
	if err := st.CreateRoom(ctx, store.Room{RoomID: s.room, CompanyID: "apt001", UserID: user, Members: []string{},
		Status: "BOT", CreatedAt: now.UnixMilli(), LastActivityAt: now.UnixMilli()}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"caller", "peer", "gone"} {
		if err := st.PutConnection(ctx, store.Connection{ConnectionID: s.room + "-" + id, RoomID: s.room, UserID: user,
			UserName: "고객", CompanyID: "apt001", ConnectedAt: now.UnixMilli(), ExpiresAt: now.Add(time.Hour).Unix()}); err != nil {
			t.Fatal(err)
		}
	}
	ep.Open(s.room+"-caller", s.room+"-peer") // "gone" is not open: 410
	ev := events.APIGatewayWebsocketProxyRequest{Body: `{"action":"sendMessage","message":"관리비?"}`}
	ev.RequestContext.RouteKey, ev.RequestContext.ConnectionID = handler.RouteSendMessage, s.room+"-caller"
	if _, err := s.h.Handle(ctx, ev); err != nil {
		t.Fatal(err)
	}
	got := map[string]*wsclient.Answer{}
	for _, id := range []string{"caller", "peer"} {
		answers, err := wsclient.Check(ep.Frames(s.room + "-" + id))
		if err != nil {
			t.Fatalf("%s %s: %v", s.name, id, err)
		}
		if len(answers) != 1 || !answers[0].Ended() || answers[0].Duplicates != 0 {
			t.Fatalf("%s %s: %d answers, want one, ended, without repeats", s.name, id, len(answers))
		}
		got[id] = answers[0]
	}
	if _, err := st.GetConnection(ctx, s.room+"-gone"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("%s: the gone connection is still stored (%v)", s.name, err)
	}
	page, err := st.History(ctx, s.room, 10, "")
	if err != nil {
		t.Fatal(err)
	}
	return got["caller"], got["peer"], page.Messages
}

func TestBaseline_IsTheMessageHandlerWithOnePostPerDelta(t *testing.T) {
	for name, status := range map[string]int{"complete answer": http.StatusOK, "RAG refuses": http.StatusInternalServerError} {
		t.Run(name, func(t *testing.T) {
			ending, outcome := relay.TypeComplete, handler.OutcomeComplete
			if status != http.StatusOK {
				ending, outcome = relay.TypeError, rag.CodeUnavailable
			}
			st, tables := testkit.Store(t)
			ep := relaytest.NewEndpoint(t)
			ragSrv := httptest.NewServer(sse(status))
			defer ragSrv.Close()
			newHandler := func() *handler.Handler {
				return &handler.Handler{
					Conns: st, History: st, Rooms: st, Limits: handler.Limits{Store: st, Questions: store.Bucket{Burst: 30, Refill: time.Second}},
					RAG:    rag.NewClient(ragSrv.URL, "DEFAULT_RAG", rag.Timeouts{}, nil),
					Poster: func(string) relay.Poster { return ep.Client() }, CallbackURL: ep.URL,
					Relay:        relay.Options{MinFrameInterval: 50 * time.Millisecond},
					JoinInterval: time.Hour, // the room's connections are looked up once: the two sides' requests compare
					Log:          slog.New(slog.DiscardHandler),
					Metrics:      metrics.New(io.Discard, "ragchat/test"),
				}
			}
			sides := []side{{"coalescing", newHandler(), "room-coalescing"}, {"one-post-per-delta", New(newHandler()), "room-baseline"}}
			var counts []dynamo.Counts
			for _, s := range sides {
				var counter *testkit.Counter
				if testkit.IsEmbedded() {
					counter = testkit.NewCounter(t, tables)
				}
				caller, peer, history := s.answer(t, st, ep)
				if counter != nil {
					counts = append(counts, counter.Counts())
				}
				if len(history) != 2 || history[0].Text != "관리비?" || history[1].Text != caller.Text || history[1].Outcome != outcome {
					t.Errorf("%s: history %+v, want the question and the answer the sockets got (%q, %s)", s.name, history, caller.Text, outcome)
				}
				if peer.Text != caller.Text || caller.Terminal.Type != ending || peer.Terminal.Type != ending {
					t.Errorf("%s: caller got %q (%s), peer %q (%s); want the same, ending %s",
						s.name, caller.Text, caller.Terminal.Type, peer.Text, peer.Terminal.Type, ending)
				}
				if status == http.StatusOK && caller.Text != strings.Join(deltas, "") {
					t.Errorf("%s: answer %q, want %q", s.name, caller.Text, strings.Join(deltas, ""))
				}
			}

			// The baseline's relay: one frame, and one post, per non-empty
			// delta and recipient, then the ending; the peer gets the
			// question first.
			want := 1
			if status == http.StatusOK {
				want += len(deltas) - 1
			}
			room := sides[1].room
			for id, posts := range map[string]int{"caller": want, "peer": want + 1} {
				if got := ep.Posts(room + "-" + id); got != posts || len(ep.Frames(room+"-"+id)) != posts {
					t.Errorf("baseline %s: %d posts, %d frames; want %d of each", id, got, len(ep.Frames(room+"-"+id)), posts)
				}
			}
			if len(counts) == 2 && !maps.Equal(counts[0], counts[1]) {
				t.Errorf("DynamoDB requests: coalescing %v, baseline %v; want the same", counts[0], counts[1])
			}
		})
	}
}
