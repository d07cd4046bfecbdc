package ragdev

import (
	"container/list"
	"sync"
	"time"
)

// Turn is one question and answer of a session.
type Turn struct {
	// Question is the question as asked, without any fault marker.
	Question string `json:"question"`
	// Answer is the full answer the server streamed (or meant to stream,
	// when a fault cut it short).
	Answer string `json:"answer"`
	// EntryID is the knowledge-base entry the answer came from; empty for
	// the fallback answer.
	EntryID string `json:"entryId,omitempty"`
	// FollowUp reports whether the question was read together with the
	// session's earlier topic.
	FollowUp bool `json:"followUp,omitempty"`

	context string // carries this turn's topic to a follow-up; empty for a fallback
}

// history keeps the last turns of recent sessions: at most maxTurns per
// session and maxSessions sessions, least recently used evicted first, and
// a session idle for ttl forgotten.
type history struct {
	mu          sync.Mutex
	maxTurns    int
	maxSessions int
	ttl         time.Duration
	now         func() time.Time
	lru         *list.List               // of *session, most recent at front
	byID        map[string]*list.Element // sessionId -> element of lru
}

type session struct {
	id    string
	turns []Turn
	last  time.Time
}

func newHistory(maxTurns, maxSessions int, ttl time.Duration, now func() time.Time) *history {
	return &history{
		maxTurns: maxTurns, maxSessions: maxSessions, ttl: ttl, now: now,
		lru: list.New(), byID: map[string]*list.Element{},
	}
}

// turns returns a copy of the session's turns, oldest first.
func (h *history) turns(id string) []Turn {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.expire()
	el, ok := h.byID[id]
	if !ok {
		return nil
	}
	return append([]Turn(nil), el.Value.(*session).turns...)
}

// add appends t to the session, creating or refreshing it.
func (h *history) add(id string, t Turn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.now()
	el, ok := h.byID[id]
	if !ok {
		el = h.lru.PushFront(&session{id: id})
		h.byID[id] = el
	}
	s := el.Value.(*session)
	s.turns = append(s.turns, t)
	if len(s.turns) > h.maxTurns {
		s.turns = append([]Turn(nil), s.turns[len(s.turns)-h.maxTurns:]...)
	}
	s.last = now
	h.lru.MoveToFront(el)
	for h.lru.Len() > h.maxSessions {
		h.remove(h.lru.Back())
	}
	h.expire()
}

// expire drops sessions idle for longer than the ttl. Callers hold mu.
func (h *history) expire() {
	cutoff := h.now().Add(-h.ttl)
	for el := h.lru.Back(); el != nil && el.Value.(*session).last.Before(cutoff); el = h.lru.Back() {
		h.remove(el)
	}
}

func (h *history) remove(el *list.Element) {
	h.lru.Remove(el)
	delete(h.byID, el.Value.(*session).id)
}

// len returns the number of sessions kept.
func (h *history) len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.lru.Len()
}
