package bench

import (
	"context"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ragchat/ragchat/shared/rag"
)

// The scripted source must be readable by the real RAG client, and the
// recorder must see exactly what the client reads.
func TestRecorder_RecordsWhatTheScriptedSourceStreams(t *testing.T) {
	deltas := ScriptedAnswer(30)
	rec := NewRecorder(Script{Deltas: deltas, Pace: time.Millisecond})
	srv := httptest.NewServer(rec)
	defer srv.Close()

	c := rag.NewClient(srv.URL, "DEFAULT_RAG", rag.Timeouts{}, nil)
	for range 2 {
		s, err := c.Ask(context.Background(), rag.Request{Message: "관리비?", CompanyID: "apt001", SessionID: "room-1"})
		if err != nil {
			t.Fatal(err)
		}
		var got strings.Builder
		for {
			ev, err := s.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			got.WriteString(ev.Delta)
		}
		s.Close()
		em, err := rec.Take("room-1", 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		want := strings.Join(deltas, "")
		if got.String() != want || em.Text != want {
			t.Errorf("client read %q, recorder saw %q, want %q", got.String(), em.Text, want)
		}
		if em.Deltas != len(deltas) || em.Question != "관리비?" {
			t.Errorf("emission = %d deltas, question %q", em.Deltas, em.Question)
		}
		if !(em.Started.Before(em.FirstDelta) && em.FirstDelta.Before(em.End)) {
			t.Errorf("times out of order: %v %v %v", em.Started, em.FirstDelta, em.End)
		}
		if d := em.End.Sub(em.Started); d < 30*time.Millisecond {
			t.Errorf("30 deltas 1 ms apart took %v", d)
		}
	}
	if _, err := rec.Take("room-1", 10*time.Millisecond); err == nil {
		t.Error("Take handed out an emission twice")
	}
}
