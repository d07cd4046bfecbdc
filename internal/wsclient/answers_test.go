package wsclient

import (
	"strings"
	"testing"
)

// The frames of one answer, and the same answer sent again in one frame.
const (
	replay = `{"type":"complete","sessionId":"room-1","messageId":"m-1","seq":1,"delta":"관리비는 매월\n","isComplete":true,"answer":"관리비는 매월\n"}`
	d1     = `{"type":"delta","sessionId":"room-1","messageId":"m-1","seq":1,"delta":"관리비는","isComplete":false}`
	d2     = `{"type":"delta","sessionId":"room-1","messageId":"m-1","seq":2,"delta":" 매월","isComplete":false}`
	end    = `{"type":"complete","sessionId":"room-1","messageId":"m-1","seq":3,"delta":"\n","isComplete":true,"answer":"관리비는 매월\n"}`
)

func TestCheck_ClientRules(t *testing.T) {
	tests := []struct {
		name    string
		frames  []string
		text    string // of the last answer
		answers int
		ended   bool
		dups    int
		ignored int
		err     string // part of the error; "" for none
	}{
		{"whole answer", []string{d1, d2, end}, "관리비는 매월\n", 1, true, 0, 0, ""},
		{"still streaming", []string{d1, d2}, "관리비는 매월", 1, false, 0, 0, ""},
		{"complete without answer", []string{d1, `{"type":"complete","sessionId":"room-1","messageId":"m-1","seq":2,"delta":"","isComplete":true}`}, "관리비는", 1, true, 0, 0, ""},
		{"retried post dropped", []string{d1, d1, d2, d2, end, end}, "관리비는 매월\n", 1, true, 3, 0, ""},
		{"API Gateway frame and unknown type ignored", []string{d1, `{"message":"Endpoint request timed out"}`, `{"type":"typing","sessionId":"room-1"}`, d2, end},
			"관리비는 매월\n", 1, true, 0, 2, ""},
		{"message, status and pong frames pass by", []string{
			`{"type":"message","sessionId":"room-1","messageId":"m-0","role":"user","text":"관리비?","userName":"고객","createdAt":1}`,
			`{"type":"status","sessionId":"room-1","status":"AGENT","assignedAgent":"agent1","agentName":"상담원-01"}`,
			`{"type":"pong"}`, d1, d2, end}, "관리비는 매월\n", 1, true, 0, 3, ""},
		{"gap", []string{d1, end}, "관리비는", 1, false, 0, 0, "seq 3 after seq 1"},
		{"first seq not 1", []string{d2}, "", 0, false, 0, 0, "starts with seq 2"},
		{"repeated seq with other content", []string{d1, strings.Replace(d1, "관리비는", "x", 1)}, "관리비는", 1, false, 0, 0, "seq 1 again with other content"},
		{"frame after the ending", []string{d1, d2, end, strings.Replace(end, `"seq":3`, `"seq":4`, 1)}, "관리비는 매월\n", 1, true, 0, 0, "after its complete frame"},
		{"complete.answer differs", []string{d1, d2, strings.Replace(end, `"answer":"관리비는 매월\n"`, `"answer":"x"`, 1)}, "관리비는 매월\n", 1, true, 0, 0, "differs from the deltas"},
		{"error ending keeps the text so far", []string{d1, `{"type":"error","sessionId":"room-1","messageId":"m-1","seq":2,"code":"RAG_TIMEOUT","message":"늦음","isComplete":true}`},
			"관리비는", 1, true, 0, 0, ""},
		{"answer sent again from seq 1", []string{d1, d2, end, replay}, "관리비는 매월\n", 2, true, 0, 0, ""},
		{"repeat of the ending after it", []string{d1, d2, end, end, d1}, "관리비는 매월\n", 1, true, 2, 0, ""},
		{"refusals without messageId are answers of their own", []string{
			`{"type":"error","sessionId":"","messageId":"","seq":1,"code":"INVALID_MESSAGE","message":"빈 메시지","isComplete":true}`,
			`{"type":"error","sessionId":"","messageId":"","seq":1,"code":"INVALID_MESSAGE","message":"빈 메시지","isComplete":true}`}, "", 2, true, 0, 0, ""},
		{"interleaved answers", []string{d1, strings.ReplaceAll(d1, "m-1", "m-2"), d2, end}, "관리비는 매월\n", 2, true, 0, 0, ""},
		{"session changes", []string{d1, strings.Replace(d2, "room-1", "room-2", 1)}, "관리비는", 1, false, 0, 0, "session"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var as Answers
			var err error
			for _, raw := range tt.frames {
				f, perr := Parse([]byte(raw))
				if perr != nil {
					t.Fatal(perr)
				}
				if _, err = as.Add(f); err != nil {
					break
				}
			}
			if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
				t.Fatalf("error %v, want %q", err, tt.err)
			}
			list := as.List()
			if len(list) != tt.answers || as.Ignored != tt.ignored {
				t.Fatalf("%d answers, %d ignored; want %d, %d", len(list), as.Ignored, tt.answers, tt.ignored)
			}
			if len(list) == 0 {
				return
			}
			last := list[len(list)-1]
			if tt.name == "interleaved answers" {
				last = list[0]
			}
			if last.Text != tt.text || last.Ended() != tt.ended || last.Duplicates != tt.dups {
				t.Errorf("answer %q ended %v dups %d; want %q %v %d", last.Text, last.Ended(), last.Duplicates, tt.text, tt.ended, tt.dups)
			}
		})
	}
}

func TestEnvelope_ExactKeysPerType(t *testing.T) {
	tests := []struct {
		name, frame, err string
	}{
		{"delta", d1, ""},
		{"delta with clientMessageId", strings.Replace(d1, `"seq"`, `"clientMessageId":"c-1","seq"`, 1), ""},
		{"complete with answer", end, ""},
		{"delta with answer", strings.Replace(d1, `"seq"`, `"answer":"x","seq"`, 1), `key "answer"`},
		{"delta without seq", strings.Replace(d1, `"seq":1,`, ``, 1), `without "seq"`},
		{"delta with isComplete", strings.Replace(d1, `false`, `true`, 1), "isComplete true"},
		{"complete without isComplete true", strings.Replace(end, `true`, `false`, 1), "isComplete false"},
		{"error", `{"type":"error","sessionId":"r","messageId":"m","seq":1,"code":"INTERNAL","message":"x","isComplete":true}`, ""},
		{"error without code", `{"type":"error","sessionId":"r","messageId":"m","seq":1,"message":"x","isComplete":true}`, `without "code"`},
		{"message", `{"type":"message","sessionId":"r","messageId":"m","role":"agent","text":"안녕","userName":"상담원-01","createdAt":1}`, ""},
		{"status", `{"type":"status","sessionId":"r","status":"BOT","assignedAgent":null}`, ""},
		{"pong", `{"type":"pong"}`, ""},
		{"pong with extra", `{"type":"pong","seq":1}`, `key "seq"`},
		{"unknown type", `{"type":"typing"}`, "unknown frame type"},
		{"API Gateway's own", `{"message":"Endpoint request timed out"}`, "unknown frame type"},
		{"not JSON", `hello`, "not a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Envelope([]byte(tt.frame))
			if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
				t.Fatalf("Envelope(%s) = %v, want %q", tt.frame, err, tt.err)
			}
		})
	}
}

func TestCheck_StopsAtTheFirstBrokenFrame(t *testing.T) {
	answers, err := Check([][]byte{[]byte(d1), []byte(`{"type":"typing"}`), []byte(d2)})
	if err == nil || !strings.Contains(err.Error(), "frame 1") || len(answers) != 1 || answers[0].Text != "관리비는" {
		t.Fatalf("Check = %v, %v", answers, err)
	}
}
