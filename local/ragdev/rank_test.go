package ragdev

import (
	"strings"
	"testing"
	"testing/fstest"
)

func mustIndex(t *testing.T, company string) *index {
	t.Helper()
	kbs, err := loadEmbedded()
	if err != nil {
		t.Fatalf("load embedded knowledge bases: %v", err)
	}
	ix, ok := kbs[company]
	if !ok {
		t.Fatalf("no knowledge base for %s", company)
	}
	return ix
}

func TestKnowledgeBases_ApartmentFAQCoversTheRequiredTopics(t *testing.T) {
	ix := mustIndex(t, "apt001")
	if n := len(ix.kb.Entries); n < 20 {
		t.Fatalf("apt001 has %d entries, want at least 20", n)
	}
	for _, topic := range []string{"관리비", "주차", "분리수거", "하자보수", "층간소음", "택배", "커뮤니티",
		"엘리베이터", "방문 차량", "반려동물", "음식물 쓰레기", "전입", "운영시간", "누수", "단수", "정전",
		"보일러", "인터넷", "경비실", "어린이집", "헬스장"} {
		found := false
		for _, e := range ix.kb.Entries {
			if strings.Contains(e.Question+" "+strings.Join(e.Keywords, " "), topic) {
				found = true
			}
		}
		if !found {
			t.Errorf("no apt001 entry is about %s", topic)
		}
	}
	multiline := 0
	for _, e := range ix.kb.Entries {
		if strings.Contains(e.Answer, "\n") {
			multiline++
		}
	}
	if multiline < 10 {
		t.Errorf("%d answers span several lines, want at least 10", multiline)
	}
	if kbs, _ := loadEmbedded(); len(kbs) < 2 {
		t.Errorf("%d companies, want at least 2", len(kbs))
	}
}

func TestLoadKnowledgeBases_RejectsBrokenFiles(t *testing.T) {
	tests := []struct {
		name, yaml string
	}{
		{"no company", "entries: [{id: a, question: q, answer: a}]"},
		{"duplicate id", "companyId: x\nentries: [{id: a, question: q, answer: a}, {id: a, question: q, answer: a}]"},
		{"empty answer", "companyId: x\nentries: [{id: a, question: q, answer: ''}]"},
		{"missing id", "companyId: x\nentries: [{question: q, answer: a}]"},
		{"not yaml", "companyId: [x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := fstest.MapFS{"kb/x.yaml": {Data: []byte(tt.yaml)}}
			if _, err := loadKnowledgeBases(fsys); err == nil {
				t.Fatal("loaded a broken knowledge base")
			}
		})
	}
}

func TestSearch_EveryEntryIsFoundByItsOwnQuestion(t *testing.T) {
	for _, company := range []string{"apt001", "book001"} {
		ix := mustIndex(t, company)
		for _, e := range ix.kb.Entries {
			if got := answerFrom(ix, e.Question, nil); got.EntryID != e.ID {
				t.Errorf("%s: %q -> %q, want %q", company, e.Question, got.EntryID, e.ID)
			}
		}
	}
}

func TestSearch_ParaphrasesFindTheRightEntry(t *testing.T) {
	tests := []struct{ question, want string }{
		{"관리비 자동이체 신청하고 싶어요", "fee-payment"},
		{"관리비 카드로 낼 수 있어요?", "fee-payment"},
		{"관리비 언제 내요?", "fee-payment"},
		{"관리비 안 내면 어떻게 돼요?", "fee-overdue"},
		{"주차 등록하려면 어떻게 해야 하나요?", "parking"},
		{"차 두 대인데 추가 요금 있나요?", "parking"},
		{"친구가 차 가지고 놀러 오는데 어떻게 하죠?", "visitor-car"},
		{"재활용 쓰레기는 무슨 요일에 버려요?", "recycling"},
		{"음쓰 어디다 버려요?", "food-waste"},
		{"음식물 카드 잃어버렸어요", "food-waste"},
		{"냉장고 버리려면?", "bulky-waste"},
		{"벽에 금이 갔어요", "defect-repair"},
		{"윗집이 너무 시끄러워요", "noise"},
		{"택배 어디서 찾아요", "parcel"},
		{"택배가 안 왔어요", "parcel"},
		{"독서실 있나요?", "community"},
		{"헬스장 몇 시까지 해요?", "gym"},
		{"엘리베이터에 갇혔어요", "elevator"},
		{"강아지 키워도 돼요?", "pets"},
		{"이사 가려고 하는데 뭐 해야 돼요?", "move"},
		{"관리사무소 몇 시에 문 열어요?", "office-hours"},
		{"천장에서 물이 떨어져요", "leak"},
		{"물이 안 나와요", "outage"},
		{"정전됐어요", "outage"},
		{"보일러가 안 켜져요", "boiler"},
		{"온수가 안 나와요", "boiler"},
		{"와이파이 어떻게 깔아요", "internet"},
		{"경비실 전화번호", "security"},
		{"어린이집 입소 신청은요?", "daycare"},
		{"현관 카드 분실", "entrance"},
		{"전기차 충전소 위치", "ev-charging"},
		{"소독 언제 해요", "disinfection"},
		{"베란다에서 담배 피워도 돼요?", "smoking"},
	}
	ix := mustIndex(t, "apt001")
	for _, tt := range tests {
		if got := answerFrom(ix, tt.question, nil); got.EntryID != tt.want {
			t.Errorf("%q -> %q, want %q", tt.question, got.EntryID, tt.want)
		}
	}
}

func TestSearch_UnrelatedQuestionsGetTheFallback(t *testing.T) {
	ix := mustIndex(t, "apt001")
	for _, q := range []string{
		"책은 어떤 재료로 만듭니까?", "오늘 날씨 어때요?", "비트코인 시세 알려줘", "점심 메뉴 추천해줘",
		"대출 금리 얼마예요?", "서울에서 부산까지 몇 시간 걸려요?", "안녕하세요", "hello", "???",
		"우주선 발사 일정은 언제인가요?", "주식 투자 어떻게 해요?",
	} {
		got := answerFrom(ix, q, nil)
		if got.EntryID != "" || !strings.HasSuffix(got.Answer, fallbackTail) {
			t.Errorf("%q -> entry %q, want the fallback", q, got.EntryID)
		}
	}
}

func TestSearch_TheTraceQuestionIsAnsweredByThePublisher(t *testing.T) {
	got := answerFrom(mustIndex(t, "book001"), "책은 어떤 재료로 만듭니까?", nil)
	if got.EntryID != "materials" {
		t.Fatalf("book001 answered from %q, want materials", got.EntryID)
	}
}

func TestAnswerFrom_UnknownCompanyGetsTheFallback(t *testing.T) {
	got := answerFrom(nil, "관리비는 언제 내나요?", nil)
	if got.EntryID != "" || got.Answer != fallbackAnswer("관리비는 언제 내나요?") {
		t.Fatalf("unknown company got %+v", got)
	}
}

func TestAnswerFrom_ShortFollowUpsUseTheSessionTopic(t *testing.T) {
	tests := []struct {
		name  string
		turns []string
		want  []string // entry per turn; "" is the fallback
	}{
		{"fee of the gym, then of parking", []string{"헬스장 몇 시까지 해요?", "요금은요?", "주차는요?", "요금은요?"},
			[]string{"gym", "gym", "parking", "parking"}},
		{"follow-ups chain", []string{"관리비 언제 내요?", "연체되면요?", "카드로도 돼요?"},
			[]string{"fee-payment", "fee-overdue", "fee-payment"}},
		{"a full question changes the topic", []string{"음식물 쓰레기 어디 버려요?", "카드 잃어버렸어요", "분리수거는 언제 하나요?"},
			[]string{"food-waste", "food-waste", "recycling"}},
		{"a fallback leaves no topic", []string{"책은 어떤 재료로 만듭니까?", "관리비 연체료는요?"},
			[]string{"", "fee-overdue"}},
	}
	ix := mustIndex(t, "apt001")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var prev []Turn
			for i, q := range tt.turns {
				got := answerFrom(ix, q, prev)
				if got.EntryID != tt.want[i] {
					t.Fatalf("turn %d %q -> %q, want %q", i, q, got.EntryID, tt.want[i])
				}
				prev = append(prev, got)
			}
		})
	}
}

func TestAnalyze_StripsEndingsAndParticles(t *testing.T) {
	tests := []struct{ in, stem string }{
		{"정전됐어요", "정전"},
		{"등록하려면", "등록"},
		{"카드로도", "카드"},
		{"주차는", "주차"},
		{"엘리베이터", "엘리베이터"},
	}
	for _, tt := range tests {
		ws := analyze(tt.in)
		if len(ws) != 1 {
			t.Fatalf("%q: %d words", tt.in, len(ws))
		}
		if got := ws[0].stems[len(ws[0].stems)-1]; got != tt.stem {
			t.Errorf("%q: stem %q, want %q", tt.in, got, tt.stem)
		}
	}
}
