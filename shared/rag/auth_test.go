package rag

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

const testBearer = "rag-bearer-s3cr3t-0123456789"

func TestAsk_SendsTheBearerOnEveryAsk(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Header.Get("Authorization"))
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: {\"delta\":\"ok\",\"isComplete\":true}\n\ndata: [DONE]\n\n")
	}))
	defer srv.Close()
	c := NewClient(srv.URL, "DEFAULT_RAG", Timeouts{Connect: time.Second}, nil).WithBearer(testBearer)
	for range 2 {
		s, err := c.Ask(context.Background(), traceRequest)
		if err != nil {
			t.Fatal(err)
		}
		for {
			if _, err := s.Next(); err == io.EOF {
				break
			} else if err != nil {
				t.Fatal(err)
			}
		}
		s.Close()
	}
	if len(got) != 2 || got[0] != "Bearer "+testBearer || got[1] != got[0] {
		t.Fatalf("Authorization headers %q, want the bearer on both asks", got)
	}
	// Without a bearer, no header at all.
	got = nil
	s, err := NewClient(srv.URL, "DEFAULT_RAG", Timeouts{Connect: time.Second}, nil).Ask(context.Background(), traceRequest)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if len(got) != 1 || got[0] != "" {
		t.Fatalf("Authorization without a bearer: %q", got)
	}
}

func TestAsk_ErrorsNameTheURLRedactedAndNeverTheBearer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+testBearer {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		http.Error(w, "boom", http.StatusInternalServerError)
	}))
	defer srv.Close()
	withUser := strings.Replace(srv.URL, "http://", "http://svc:hunter2-pw@", 1)
	for _, c := range []*Client{
		NewClient(withUser, "DEFAULT_RAG", Timeouts{Connect: time.Second}, nil).WithBearer(testBearer),
		NewClient(withUser, "DEFAULT_RAG", Timeouts{Connect: time.Second}, nil),
	} {
		_, err := c.Ask(context.Background(), traceRequest)
		if err == nil {
			t.Fatal("Ask succeeded against a failing service")
		}
		msg := err.Error()
		if strings.Contains(msg, "hunter2-pw") || strings.Contains(msg, testBearer) || !strings.Contains(msg, "svc:xxxxx@") {
			t.Fatalf("error %q: want the URL with its password redacted and no bearer", msg)
		}
	}
	if got := Redact("https://u:p@rag.example/v1"); got != "https://u:xxxxx@rag.example/v1" {
		t.Fatalf("Redact = %q", got)
	}
}
