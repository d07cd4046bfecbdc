package ragdev

import (
	"math"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Ranking: BM25F over character bigrams, accepted by word coverage.
//
// Korean glues particles and endings to words ("주차는", "주차를",
// "주차하려면"), so whole-word matching fails, and a morphological analyser
// is too heavy for a dev server. Each word is analysed into variants: the
// word itself and the stem left after stripping a common ending, a verb
// suffix and up to two particles ("정전됐어요" -> "정전", "등록하려면" ->
// "등록"). A variant is represented by its overlapping character bigrams
// (the approach of Lucene's CJK analyser); a one-syllable variant by
// itself. Entries are ranked by BM25F over those
// terms, with the question and keywords weighing more than the answer.
//
// A word scores as its best variant, so an ending's bigrams never outweigh
// the stem. Only entries that cover enough of the query compete: every
// content word of the query weighs its largest idf (a word the knowledge base has never
// seen weighs the most) and counts as covered by the share of its best
// variant's idf mass the entry contains. The best of them is accepted if
// its score reaches a floor; otherwise the server gives the fallback
// answer.

const (
	bm25K1 = 1.2
	bm25B  = 0.75

	weightQuestion = 3.0
	weightKeywords = 3.0
	weightAnswer   = 1.0

	// minCoverage is the share of the query's word weight an accepted
	// entry must cover.
	minCoverage = 0.5
	// minScore is the BM25F score an accepted entry must reach.
	minScore = 2.0
)

// endings are verb endings and copulas stripped from the end of a word,
// longest first.
var endings = sortedByLength(
	"했어요", "됐어요", "었어요", "았어요", "이에요", "입니다", "습니까", "습니다", "인가요", "한가요",
	"나요", "가요", "까요", "세요", "어요", "아요", "워요", "해요", "돼요", "되요", "에요", "예요",
	"니다", "니까", "해줘", "줘", "은요", "는요", "이요", "려면", "려고", "는데", "은데", "인데", "지요", "죠", "요",
)

// verbSuffixes turn nouns into verbs ("등록하려면" -> "등록하" -> "등록").
var verbSuffixes = []string{"하", "되", "시"}

// particles are postpositions stripped from the end of a stem, longest
// first.
var particles = sortedByLength(
	"에서", "으로", "에게", "한테", "까지", "부터", "이랑", "처럼", "보다", "마다",
	"은", "는", "이", "가", "을", "를", "에", "의", "도", "로", "와", "과", "만",
)

// stopWords are words (or their stems) that say how something is asked,
// not what about: question words, auxiliaries, adverbs and pronouns.
var stopWords = toSet(
	"어떻게", "어떤", "어떡", "어떻", "언제", "어디", "어디서", "어디다", "어디에", "얼마", "얼마나", "무엇", "무슨",
	"뭐", "뭔가", "왜", "몇", "누가", "누구", "좀", "꼭", "더", "또", "다", "잘", "안", "못", "너무", "많이",
	"정말", "진짜", "혹시", "그럼", "그러면", "그리고", "그런데", "근데", "그", "이", "저", "제", "우리",
	"저희", "수", "것", "거", "게", "때", "하", "하나", "하는", "하고", "하면", "해야", "해도", "할", "한",
	"했", "해", "되", "되나", "되는", "될", "돼", "됩", "있", "있나", "있는", "있을", "있어", "없", "없나",
	"싶", "싶어", "싶은", "궁금", "궁금합", "궁금해", "알려", "알려주", "알고", "가능", "가능한", "방법",
	"가", "오", "왔", "갔", "가려", "오려", "하려", "거기", "여기", "그거", "그건", "그것", "이거", "이건",
	"대해", "관해", "관련", "문의", "질문", "안녕", "안녕하", "안녕하세", "감사", "감사합",
)

func toSet(ws ...string) map[string]bool {
	m := make(map[string]bool, len(ws))
	for _, w := range ws {
		m[w] = true
	}
	return m
}

func sortedByLength(ws ...string) []string {
	sort.SliceStable(ws, func(i, j int) bool {
		return utf8.RuneCountInString(ws[i]) > utf8.RuneCountInString(ws[j])
	})
	return ws
}

// words splits text into lower-cased runs of letters and digits.
func words(text string) []string {
	return strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
}

// stripSuffix removes the longest of suffixes from w when at least one
// character remains.
func stripSuffix(w string, suffixes []string) string {
	for _, s := range suffixes {
		if len(w) > len(s) && strings.HasSuffix(w, s) {
			return strings.TrimSuffix(w, s)
		}
	}
	return w
}

// bigrams returns the distinct overlapping character bigrams of w, or w
// itself when it is one character long.
func bigrams(w string) []string {
	rs := []rune(w)
	if len(rs) < 2 {
		return []string{w}
	}
	seen := map[string]bool{}
	var out []string
	for i := 0; i+1 < len(rs); i++ {
		b := string(rs[i : i+2])
		if !seen[b] {
			seen[b] = true
			out = append(out, b)
		}
	}
	return out
}

// word is one analysed word: its stems and the terms of each variant.
type word struct {
	stems    []string   // the word itself, then what stripping left
	variants [][]string // bigrams of each stem, same order
}

// stop reports whether the word carries no topic.
func (w word) stop() bool {
	for _, s := range w.stems {
		if stopWords[s] {
			return true
		}
	}
	return false
}

// terms returns the distinct terms of every variant.
func (w word) terms() []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range w.variants {
		for _, t := range v {
			if !seen[t] {
				seen[t] = true
				out = append(out, t)
			}
		}
	}
	return out
}

// analyze splits text into words and their variants.
func analyze(text string) []word {
	var out []word
	for _, raw := range words(text) {
		stems := []string{raw}
		stem := stripSuffix(raw, endings)
		stem = stripSuffix(stem, verbSuffixes)
		stem = stripSuffix(stripSuffix(stem, particles), particles) // "카드로도" -> "카드"
		if stem != raw {
			stems = append(stems, stem)
		}
		w := word{stems: stems}
		for _, s := range stems {
			w.variants = append(w.variants, bigrams(s))
		}
		out = append(out, w)
	}
	return out
}

// query is what a search looks for: content words with their weights.
// Context words (the topic of an earlier turn) add to the score but need
// not be covered.
type query struct {
	words   []word
	weights []float64
	context []bool
}

// contentWords returns the words of text that carry a topic.
func contentWords(text string) []word {
	var out []word
	for _, wd := range analyze(text) {
		if !wd.stop() {
			out = append(out, wd)
		}
	}
	return out
}

// newQuery builds the query for question, read in the light of context
// (which may be empty): the question's words weigh 1 each, the context's
// words share a weight of 1 between them.
func newQuery(question, context string) query {
	var q query
	for _, wd := range contentWords(question) {
		q.words = append(q.words, wd)
		q.weights = append(q.weights, 1)
		q.context = append(q.context, false)
	}
	cw := contentWords(context)
	for _, wd := range cw {
		q.words = append(q.words, wd)
		q.weights = append(q.weights, 1/float64(len(cw)))
		q.context = append(q.context, true)
	}
	return q
}

// index is a BM25F index over one knowledge base.
type index struct {
	kb     knowledgeBase
	tf     []map[string]float64 // per entry: field-weighted term frequency
	length []float64            // per entry: field-weighted length
	avgLen float64
	df     map[string]int
}

func newIndex(kb knowledgeBase) *index {
	ix := &index{kb: kb, df: map[string]int{}}
	total := 0.0
	for _, e := range kb.Entries {
		tf := map[string]float64{}
		n := 0.0
		addField := func(text string, weight float64) {
			for _, wd := range analyze(text) {
				for _, t := range wd.terms() {
					tf[t] += weight
					n += weight
				}
			}
		}
		addField(e.Question, weightQuestion)
		addField(strings.Join(e.Keywords, " "), weightKeywords)
		addField(e.Answer, weightAnswer)
		for t := range tf {
			ix.df[t]++
		}
		ix.tf = append(ix.tf, tf)
		ix.length = append(ix.length, n)
		total += n
	}
	if len(kb.Entries) > 0 {
		ix.avgLen = total / float64(len(kb.Entries))
	}
	return ix
}

// idf is the BM25 inverse document frequency of t; a term no entry has
// gets the largest value.
func (ix *index) idf(t string) float64 {
	n := float64(len(ix.kb.Entries))
	df := float64(ix.df[t])
	return math.Log(1 + (n-df+0.5)/(df+0.5))
}

// match is the outcome of a search.
type match struct {
	entry    int     // index into kb.Entries; -1 when nothing was accepted
	score    float64 // BM25F score of the best covering entry
	coverage float64 // share of the query's own words that entry covers
}

func (m match) ok() bool { return m.entry >= 0 }

// search returns the best-scoring entry among those that cover enough of
// q, accepted (entry >= 0) if its score reaches the floor.
func (ix *index) search(q query) match {
	best := match{entry: -1}
	bestIdx := -1
	for i := range ix.tf {
		cov := ix.coverage(q, i)
		if cov < minCoverage {
			continue
		}
		if score := ix.score(q, i); bestIdx < 0 || score > best.score {
			bestIdx, best.score, best.coverage = i, score, cov
		}
	}
	if bestIdx >= 0 && best.score >= minScore {
		best.entry = bestIdx
	}
	return best
}

// score is the BM25F score of entry i for q. A word scores as its best
// variant, and a variant as the mean of its terms' contributions, so a
// long word counts no more than a short one and the unstripped form of a
// word cannot outscore its stem with the bigrams of its ending.
func (ix *index) score(q query, i int) float64 {
	tf := ix.tf[i]
	norm := bm25K1 * (1 - bm25B + bm25B*ix.length[i]/ix.avgLen)
	total := 0.0
	for k, wd := range q.words {
		best := 0.0
		for _, v := range wd.variants {
			sum := 0.0
			for _, t := range v {
				if f := tf[t]; f > 0 {
					sum += ix.idf(t) * f * (bm25K1 + 1) / (f + norm)
				}
			}
			best = math.Max(best, sum/float64(len(v)))
		}
		total += q.weights[k] * best
	}
	return total
}

// coverage is the weighted share of q's own words (not context) that
// entry i contains; 1 when q has only context.
func (ix *index) coverage(q query, i int) float64 {
	tf := ix.tf[i]
	total, covered := 0.0, 0.0
	for k, wd := range q.words {
		if q.context[k] {
			continue
		}
		weight, share := 0.0, 0.0
		for _, v := range wd.variants {
			mass, hit := 0.0, 0.0
			for _, t := range v {
				idf := ix.idf(t)
				weight = math.Max(weight, idf)
				mass += idf
				if tf[t] > 0 {
					hit += idf
				}
			}
			share = math.Max(share, hit/mass)
		}
		total += q.weights[k] * weight
		covered += q.weights[k] * weight * share
	}
	if total == 0 {
		return 1
	}
	return covered / total
}
