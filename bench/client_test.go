package bench

import (
	"testing"

	"github.com/ragchat/ragchat/internal/wsclient"
)

func TestVerify_ComparesTheAnswerWithWhatTheRAGServiceEmitted(t *testing.T) {
	emitted := "관리비는 매월"
	answer := func(frames ...string) *wsclient.Answer {
		t.Helper()
		as, err := wsclient.Check(func() (raw [][]byte) {
			for _, f := range frames {
				raw = append(raw, []byte(f))
			}
			return raw
		}())
		if err != nil || len(as) != 1 {
			t.Fatalf("Check = %v, %v", as, err)
		}
		return as[0]
	}
	d1 := `{"type":"delta","sessionId":"r","messageId":"m","seq":1,"delta":"관리비는","isComplete":false}`
	tests := []struct {
		name string
		a    *wsclient.Answer
		want Check
	}{
		{"whole", answer(d1, `{"type":"complete","sessionId":"r","messageId":"m","seq":2,"delta":" 매월","isComplete":true}`), Check{Complete: true}},
		{"text differs", answer(d1, `{"type":"complete","sessionId":"r","messageId":"m","seq":2,"delta":" 매일","isComplete":true}`), Check{Differs: true, Complete: true}},
		{"ended with an error", answer(d1, `{"type":"error","sessionId":"r","messageId":"m","seq":2,"code":"RAG_TIMEOUT","message":"x","isComplete":true}`), Check{Differs: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Verify(tt.a, emitted); got != tt.want {
				t.Errorf("Verify = %+v, want %+v", got, tt.want)
			}
		})
	}
}
