package baseline

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/ragchat/ragchat/internal/wsclient"
	"github.com/ragchat/ragchat/shared/rag"
	"github.com/ragchat/ragchat/shared/relay"
	"github.com/ragchat/ragchat/shared/relay/relaytest"
	"github.com/ragchat/ragchat/shared/store"
)

type fakeStore struct {
	mu       sync.Mutex
	conns    []store.Connection
	deleted  []string
	messages []store.Message
	touched  int
}

func (f *fakeStore) GetConnection(_ context.Context, id string) (store.Connection, error) {
	for _, c := range f.conns {
		if c.ConnectionID == id {
			return c, nil
		}
	}
	return store.Connection{}, store.ErrNotFound
}

func (f *fakeStore) RoomConnections(_ context.Context, room string, _ time.Time) ([]store.Connection, error) {
	var out []store.Connection
	for _, c := range f.conns {
		if c.RoomID == room {
			out = append(out, c)
		}
	}
	return out, nil
}

func (f *fakeStore) DeleteConnection(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deleted = append(f.deleted, id)
	return nil
}

func (f *fakeStore) PutMessage(_ context.Context, m store.Message) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.messages = append(f.messages, m)
	return nil
}

func (f *fakeStore) TouchRoom(context.Context, string, int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.touched++
	return nil
}

// sse serves the trace's framing of deltas, or a 500.
func sse(deltas []string, status int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if status != http.StatusOK {
			w.WriteHeader(status)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		for _, d := range deltas {
			io.WriteString(w, `data: {"sessionId": "room-1", "delta": "`+d+`", "isComplete": false}`+"\n")
		}
		io.WriteString(w, "data: [DONE]\n")
	})
}

func TestHandle_PostsEveryDeltaToEveryRecipientThenOneTerminalFrame(t *testing.T) {
	deltas := []string{"관리비는", " 매월", " 25일", "입니다."}
	tests := []struct {
		name      string
		status    int
		wantTypes []string
		outcome   string
	}{
		{"complete answer", http.StatusOK, []string{"delta", "delta", "delta", "delta", "complete"}, "complete"},
		{"RAG refuses", http.StatusInternalServerError, []string{"error"}, rag.CodeUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ep := relaytest.NewEndpoint(t)
			ep.Open("c1", "c2")
			ragSrv := httptest.NewServer(sse(deltas, tt.status))
			defer ragSrv.Close()
			st := &fakeStore{conns: []store.Connection{
				{ConnectionID: "c1", RoomID: "room-1", CompanyID: "apt001", UserName: "고객"},
				{ConnectionID: "c2", RoomID: "room-1"},
				{ConnectionID: "gone", RoomID: "room-1"},
			}}
			h := &Handler{
				Conns: st, History: st, RAG: rag.NewClient(ragSrv.URL, "DEFAULT_RAG", rag.Timeouts{}, nil),
				Poster: func(string) relay.Poster { return ep.Client() }, CallbackURL: "http://unused",
				Log: slog.New(slog.DiscardHandler),
			}
			ev := events.APIGatewayWebsocketProxyRequest{Body: `{"action":"sendMessage","message":"관리비?"}`}
			ev.RequestContext.ConnectionID = "c1"
			if _, err := h.Handle(context.Background(), ev); err != nil {
				t.Fatal(err)
			}
			for _, id := range []string{"c1", "c2"} {
				frames, err := wsclient.Envelopes(ep.Frames(id))
				if err != nil {
					t.Fatal(err)
				}
				var types []string
				var text strings.Builder
				for i, f := range frames {
					if f.Seq != i+1 {
						t.Errorf("%s frame %d has seq %d", id, i, f.Seq)
					}
					types = append(types, f.Type)
					text.WriteString(f.Delta)
				}
				if !slices.Equal(types, tt.wantTypes) {
					t.Errorf("%s got %v, want %v", id, types, tt.wantTypes)
				}
				if tt.outcome == "complete" && (text.String() != strings.Join(deltas, "") || *frames[len(frames)-1].Answer != text.String()) {
					t.Errorf("%s text %q", id, text.String())
				}
				if ep.Posts(id) != len(tt.wantTypes) {
					t.Errorf("%s got %d posts, want one per frame", id, ep.Posts(id))
				}
			}
			if !slices.Equal(st.deleted, []string{"gone"}) {
				t.Errorf("deleted %v, want the gone connection", st.deleted)
			}
			if len(st.messages) != 2 || st.messages[1].Outcome != tt.outcome || st.touched != 1 {
				t.Errorf("stored %+v, touched %d", st.messages, st.touched)
			}
		})
	}
}

func TestHandle_UnknownConnectionGetsNoFrames(t *testing.T) {
	ep := relaytest.NewEndpoint(t)
	st := &fakeStore{}
	h := &Handler{Conns: st, History: st, Poster: func(string) relay.Poster { return ep.Client() }, Log: slog.New(slog.DiscardHandler)}
	ev := events.APIGatewayWebsocketProxyRequest{Body: `{"message":"x"}`}
	ev.RequestContext.ConnectionID = "nobody"
	if _, err := h.Handle(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	if ep.Posts("nobody") != 0 || len(st.messages) != 0 {
		t.Error("an unknown connection must cost nothing")
	}
}
