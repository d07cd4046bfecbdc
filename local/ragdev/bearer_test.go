package ragdev

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ragchat/ragchat/shared/rag"
)

func TestAsk_ABearerWhenConfiguredIsRequiredAndNeverLogged(t *testing.T) {
	const bearer = "dev-rag-bearer-7f3a9c"
	var logs bytes.Buffer
	_, ts := start(t, Options{Bearer: bearer, Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	req := rag.Request{Message: "관리비는 언제 내나요?", CompanyID: "apt001", SessionID: "room-0000a001", UserName: "고객-275b", UseHistory: true}
	ask := func(c *rag.Client) (string, error) {
		s, err := c.Ask(context.Background(), req)
		if err != nil {
			return "", err
		}
		defer s.Close()
		var text strings.Builder
		for {
			ev, err := s.Next()
			if err == io.EOF {
				return text.String(), nil
			}
			if err != nil {
				return "", err
			}
			text.WriteString(ev.Delta)
		}
	}
	timeouts := rag.Timeouts{Connect: time.Second, FirstEvent: 5 * time.Second, Idle: 5 * time.Second}
	for _, wrong := range []*rag.Client{
		rag.NewClient(ts.URL, "DEFAULT_RAG", timeouts, nil),
		rag.NewClient(ts.URL, "DEFAULT_RAG", timeouts, nil).WithBearer("not-" + bearer),
	} {
		_, err := ask(wrong)
		var re *rag.Error
		if err == nil || !strings.Contains(err.Error(), "401") || !errors.As(err, &re) || re.Code != rag.CodeUnavailable {
			t.Fatalf("ask without the right bearer: %v, want RAG_UNAVAILABLE for a 401", err)
		}
	}
	text, err := ask(rag.NewClient(ts.URL, "DEFAULT_RAG", timeouts, nil).WithBearer(bearer))
	if err != nil || !strings.Contains(text, "25일") {
		t.Fatalf("ask with the bearer: %q, %v", text, err)
	}
	if strings.Contains(logs.String(), bearer) {
		t.Fatalf("the bearer reached the log:\n%s", logs.String())
	}
	// Unconfigured, a bearer is accepted and ignored.
	_, open := start(t, Options{})
	if _, err := ask(rag.NewClient(open.URL, "DEFAULT_RAG", timeouts, nil).WithBearer(bearer)); err != nil {
		t.Fatalf("a bearer to a server that needs none: %v", err)
	}
}
