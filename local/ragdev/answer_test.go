package ragdev

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestFallbackAnswer_TakesTheSubjectFromTheQuestion(t *testing.T) {
	tests := []struct{ question, subject string }{
		{"책은 어떤 재료로 만듭니까?", "책 재료와"},
		{"오늘 날씨 어때요?", "오늘 날씨와"},
		{"비트코인 시세 알려줘", "비트코인 시세와"},
		{"책 만드는 방법", "책과"},
		{"우주선 발사 일정은 언제인가요?", "우주선 발사 일정과"},
		{"먹는 샘물은요?", "샘물과"},
		{"hello", "문의하신 내용과"},
		{"???", "문의하신 내용과"},
		{"어떻게 해요?", "문의하신 내용과"},
		{"가나다라마바사아자차카 타파하가나다라마바사 아자차카타파하가나다라", "문의하신 내용과"},
	}
	for _, tt := range tests {
		got := fallbackAnswer(tt.question)
		if want := tt.subject + fallbackTail; got != want {
			t.Errorf("%q -> %q, want %q", tt.question, got, want)
		}
	}
}

func TestFallbackAnswer_EndsLikeTheTrace(t *testing.T) {
	const trace = " 관련된 자세한 정보는 현재 확인이 어려운 점 양해 부탁드립니다. 보다 정확한 안내를 위해 " +
		"고객센터([고객센터 연락처]) 또는 관련 부서([담당 부서 연락처])로 문의해주시면 감사하겠습니다.\n"
	if fallbackTail != trace {
		t.Fatalf("fallback tail %q differs from the trace's %q", fallbackTail, trace)
	}
}

func TestPieces_ConcatenateToTheTextInSmallPieces(t *testing.T) {
	kbs, err := loadEmbedded()
	if err != nil {
		t.Fatal(err)
	}
	texts := []string{"", " ", "\n\n", "a  b\n c", fallbackAnswer("책은 어떤 재료로 만듭니까?"), hugeDelta(1000)}
	for _, ix := range kbs {
		for _, e := range ix.kb.Entries {
			texts = append(texts, e.Answer)
		}
	}
	for _, text := range texts {
		ps := pieces(text)
		if got := strings.Join(ps, ""); got != text {
			t.Fatalf("pieces of %q join to %q", text, got)
		}
		for _, p := range ps {
			if p == "" {
				t.Fatalf("empty piece in %q", text)
			}
			hangul := 0
			for _, r := range strings.TrimLeft(p, " ") {
				if isHangulSyllable(r) {
					hangul++
				}
			}
			if hangul > 3 || utf8.RuneCountInString(strings.TrimLeft(p, " ")) > 4 {
				t.Fatalf("piece %q of %q is too long", p, text)
			}
			if strings.Contains(p, "\n") && p != "\n" && strings.TrimSpace(p) != "" {
				t.Fatalf("newline shares piece %q", p)
			}
		}
	}
}

func TestPieces_AreTheSameForTheSameText(t *testing.T) {
	text := fallbackAnswer("오늘 날씨 어때요?")
	a, b := pieces(text), pieces(text)
	if strings.Join(a, "|") != strings.Join(b, "|") {
		t.Fatal("pieces differ between two calls")
	}
}

func TestEventJSON_MatchesTheTraceByteForByte(t *testing.T) {
	tests := []struct {
		delta    string
		complete bool
		want     string
	}{
		{"", false, `{"sessionId": "room-d2dc543d", "delta": "", "isComplete": false}`},
		{" 관련된", false, `{"sessionId": "room-d2dc543d", "delta": " 관련된", "isComplete": false}`},
		{"([", false, `{"sessionId": "room-d2dc543d", "delta": "([", "isComplete": false}`},
		{"\n", false, `{"sessionId": "room-d2dc543d", "delta": "\n", "isComplete": false}`},
		{"", true, `{"sessionId": "room-d2dc543d", "delta": "", "isComplete": true}`},
		{"\"q\" \\ \t\r\x01 <&>", false, `{"sessionId": "room-d2dc543d", "delta": "\"q\" \\ \t\r\u0001 <&>", "isComplete": false}`},
	}
	for _, tt := range tests {
		if got := eventJSON("room-d2dc543d", tt.delta, tt.complete); got != tt.want {
			t.Errorf("eventJSON(%q) = %s, want %s", tt.delta, got, tt.want)
		}
	}
}

func TestHugeDelta_IsExactlyTheSizeAndValidUTF8(t *testing.T) {
	for _, n := range []int{2, 3, 50, HugeLineBytes} {
		d := hugeDelta(n)
		if len(d) != n || !utf8.ValidString(d) {
			t.Errorf("hugeDelta(%d): %d bytes, valid %v", n, len(d), utf8.ValidString(d))
		}
	}
}
