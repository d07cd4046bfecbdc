package relay_test

import (
	"context"
	"testing"

	"github.com/ragchat/ragchat/shared/relay"
	"github.com/ragchat/ragchat/shared/relay/relaytest"
)

func TestRelay_NeverPostsToMoreThanMaxRecipients(t *testing.T) {
	e := relaytest.NewEndpoint(t)
	ids := []string{"caller", "a", "b", "late1", "late2"}
	e.Open(ids...)
	s := newRelay(e, &deleter{}, relay.Options{MaxRecipients: 3}).Start(context.Background(), answerID, ids[:2])
	s.Delta("첫 부분")
	s.Add(ids[2:], nil) // b fits; late1 and late2 do not
	s.Add(ids[3:4], nil)
	s.Delta(" 끝")
	s.Complete()
	s.Wait()
	if s.Recipients() != 3 {
		t.Fatalf("recipients %d, want 3", s.Recipients())
	}
	for _, id := range ids[:3] {
		if tr := transcript(t, e, id); tr.Text != "첫 부분 끝" || tr.Terminal.Type != relay.TypeComplete {
			t.Errorf("%s: %q ending %s, want the whole answer", id, tr.Text, tr.Terminal.Type)
		}
	}
	for _, id := range ids[3:] {
		if n := e.Posts(id); n != 0 {
			t.Errorf("%s over the cap got %d posts", id, n)
		}
	}
}
