package ragdev

import (
	"hash/fnv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// fallbackTail follows the subject in the fallback answer, as in the trace.
const fallbackTail = " 관련된 자세한 정보는 현재 확인이 어려운 점 양해 부탁드립니다. " +
	"보다 정확한 안내를 위해 고객센터([고객센터 연락처]) 또는 관련 부서([담당 부서 연락처])로 " +
	"문의해주시면 감사하겠습니다.\n"

// genericSubject stands in when no sensible subject can be taken from the
// question.
const genericSubject = "문의하신 내용"

// maxSubjectWords and maxSubjectRunes bound the subject of a fallback.
const (
	maxSubjectWords = 3
	maxSubjectRunes = 20
)

// nounParticles mark the word before them as a noun without doubt; the
// topic markers 은/는 also end verb modifiers ("만드는") and are treated
// apart.
var nounParticles = []string{
	"에서", "으로", "에게", "한테", "까지", "부터", "이랑", "처럼", "보다", "마다",
	"이", "가", "을", "를", "에", "의", "도", "로", "와", "과", "만",
}

// ellipticEndings end a question that is a bare noun ("요금은요?").
var ellipticEndings = []string{"은요", "는요", "이요"}

// verbStems are frequent verb stems that a topic marker strip would leave
// behind ("만드는" -> "만드"); they never name a subject.
var verbStems = toSet("만드", "버리", "고치", "바꾸", "나오", "다니", "드리", "보", "주", "쓰", "사", "타", "하", "가", "오")

// fallbackAnswer is the polite answer given when the knowledge base has
// nothing on the question, with the question's subject when one can be
// found ("책은 어떤 재료로 만듭니까?" -> "책 재료와 관련된 ...").
func fallbackAnswer(question string) string {
	subject := fallbackSubject(question)
	return subject + withParticle(subject, "과", "와") + fallbackTail
}

// fallbackSubject picks up to three nouns of the question: bare words and
// words ending in a noun particle, leaving out question words, predicates
// (words with a verb ending) and verb modifiers. It returns genericSubject
// when none is left or the result would not read well.
func fallbackSubject(question string) string {
	var nouns []string
	for _, raw := range words(question) {
		raw = stripSuffix(raw, ellipticEndings) // "샘물은요" asks about 샘물
		stem := stripSuffix(raw, endings)
		if stem != raw || stopWords[raw] {
			continue // a predicate or a question word
		}
		switch {
		case strings.HasSuffix(raw, "은") || strings.HasSuffix(raw, "는"):
			stem = strings.TrimSuffix(strings.TrimSuffix(raw, "은"), "는")
			if stem == "" || verbStems[stem] || !hasFinalConsonantFit(stem, raw) {
				continue
			}
		default:
			stem = stripSuffix(raw, nounParticles)
		}
		if stem == "" || stopWords[stem] || verbStems[stem] {
			continue
		}
		nouns = append(nouns, stem)
		if len(nouns) == maxSubjectWords {
			break
		}
	}
	subject := strings.Join(nouns, " ")
	if subject == "" || utf8.RuneCountInString(subject) > maxSubjectRunes {
		return genericSubject
	}
	last, _ := utf8.DecodeLastRuneInString(subject)
	if !isHangulSyllable(last) {
		return genericSubject
	}
	return subject
}

// hasFinalConsonantFit reports whether the topic marker ending raw is the
// one a noun stem takes: 은 after a final consonant, 는 after a vowel. A
// mismatch ("먹는", "있는") marks a verb modifier.
func hasFinalConsonantFit(stem, raw string) bool {
	last, _ := utf8.DecodeLastRuneInString(stem)
	if !isHangulSyllable(last) {
		return true
	}
	return hasBatchim(last) == strings.HasSuffix(raw, "은")
}

func isHangulSyllable(r rune) bool { return r >= 0xAC00 && r <= 0xD7A3 }

// hasBatchim reports whether Hangul syllable r ends in a consonant.
func hasBatchim(r rune) bool { return (r-0xAC00)%28 != 0 }

// withParticle returns consonant when word ends in a final consonant,
// vowel otherwise (과/와, 은/는, ...).
func withParticle(word, consonant, vowel string) string {
	last, _ := utf8.DecodeLastRuneInString(word)
	if isHangulSyllable(last) && hasBatchim(last) {
		return consonant
	}
	return vowel
}

// pieces cuts text into the small pieces a language model streams: a
// space rides on the piece after it, runs of Hangul come in pieces of one
// to three syllables, other letters and digits in pieces of up to four,
// punctuation in pieces of up to two, and every newline alone. The cut is
// pseudo-random but fixed for a given text. Concatenating the pieces gives
// text back exactly.
func pieces(text string) []string {
	h := fnv.New64a()
	h.Write([]byte(text))
	rng := h.Sum64() | 1
	next := func() uint64 { // xorshift64
		rng ^= rng << 13
		rng ^= rng >> 7
		rng ^= rng << 17
		return rng
	}
	hangulSize := func() int {
		switch n := next() % 20; {
		case n < 7:
			return 1
		case n < 16:
			return 2
		default:
			return 3
		}
	}
	var out []string
	var pending strings.Builder // spaces waiting for the next piece
	emit := func(s string) {
		out = append(out, pending.String()+s)
		pending.Reset()
	}
	rs := []rune(text)
	for i := 0; i < len(rs); {
		r := rs[i]
		switch {
		case r == '\n':
			if pending.Len() > 0 {
				out = append(out, pending.String())
				pending.Reset()
			}
			out = append(out, "\n")
			i++
		case unicode.IsSpace(r):
			pending.WriteRune(r)
			i++
		default:
			class := runeClass(r)
			size := 2
			switch class {
			case classHangul:
				size = hangulSize()
			case classAlnum:
				size = 4
			}
			j := i
			for j < len(rs) && j-i < size && runeClass(rs[j]) == class && !unicode.IsSpace(rs[j]) {
				j++
			}
			emit(string(rs[i:j]))
			i = j
		}
	}
	if pending.Len() > 0 {
		out = append(out, pending.String())
	}
	return out
}

const (
	classHangul = iota
	classAlnum
	classPunct
)

func runeClass(r rune) int {
	switch {
	case isHangulSyllable(r):
		return classHangul
	case unicode.IsLetter(r) || unicode.IsDigit(r):
		return classAlnum
	default:
		return classPunct
	}
}
