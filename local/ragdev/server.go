package ragdev

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Defaults used when the matching Options field is zero.
const (
	DefaultPieceDelay      = 30 * time.Millisecond
	DefaultSlowPieceDelay  = time.Second
	DefaultStallFor        = 10 * time.Minute
	DefaultHistoryTurns    = 6
	DefaultHistorySessions = 1000
	DefaultHistoryTTL      = 30 * time.Minute
)

// HugeLineBytes is the size of the delta the huge-line fault sends.
const HugeLineBytes = 1 << 20

// CutPieces is the number of pieces sent before the cut point, where
// stall-mid, eof-before-done and reset-mid strike and huge-line inserts its
// delta (fewer when the answer is too short, so that at least one piece
// comes after the cut).
const CutPieces = 3

// MalformedLines is the number of non-JSON data lines the malformed fault
// inserts.
const MalformedLines = 3

const (
	maxBodyBytes    = 64 << 10
	maxMessageRunes = 4000
	// followUpWords: a question with at most this many content words is
	// read as a possible follow-up of the session's last topic.
	followUpWords = 2
	// topicTurns: how many recent turns are searched for a topic.
	topicTurns = 3
)

// Options configure a Server. The zero value is a working server with the
// defaults above and no faults.
type Options struct {
	// PieceDelay is the pause before each event after the first. Zero means
	// DefaultPieceDelay; a negative value streams without pauses (tests).
	PieceDelay time.Duration
	// SlowPieceDelay is the pause of the slow fault when the fault gives
	// none. Zero means DefaultSlowPieceDelay.
	SlowPieceDelay time.Duration
	// StallFor is how long the stall faults stall when the fault gives no
	// duration. Zero means DefaultStallFor. A stall also ends when the
	// client goes away or Close is called.
	StallFor time.Duration
	// Faults are injected into every request whose question has no fault
	// marker, for FaultCount requests (0: until changed).
	Faults     Faults
	FaultCount int
	// HistoryTurns, HistorySessions and HistoryTTL bound the conversation
	// memory: turns kept per session, sessions kept (least recently used
	// evicted), idle time after which a session is forgotten.
	HistoryTurns    int
	HistorySessions int
	HistoryTTL      time.Duration
	// Logger receives one line per request; nil discards. Questions and
	// user names are not logged.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Bearer, when set, is required: an ask without the header
	// "Authorization: Bearer <Bearer>" gets 401, as a RAG service behind a
	// credential answers. Unset, any Authorization header is accepted and
	// ignored. The token is never logged.
	Bearer string
}

func (o Options) withDefaults() Options {
	if o.PieceDelay == 0 {
		o.PieceDelay = DefaultPieceDelay
	}
	if o.PieceDelay < 0 {
		o.PieceDelay = 0
	}
	if o.SlowPieceDelay <= 0 {
		o.SlowPieceDelay = DefaultSlowPieceDelay
	}
	if o.StallFor <= 0 {
		o.StallFor = DefaultStallFor
	}
	if o.HistoryTurns <= 0 {
		o.HistoryTurns = DefaultHistoryTurns
	}
	if o.HistorySessions <= 0 {
		o.HistorySessions = DefaultHistorySessions
	}
	if o.HistoryTTL <= 0 {
		o.HistoryTTL = DefaultHistoryTTL
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// OptionsFromEnv reads Options from the environment through getenv:
// RAGDEV_FAULTS (a fault spec, see ParseFaults) and RAGDEV_PIECE_DELAY (a
// Go duration; "0" streams without pauses). Unset variables keep the
// defaults.
func OptionsFromEnv(getenv func(string) string) (Options, error) {
	var o Options
	if v := getenv("RAGDEV_FAULTS"); v != "" {
		f, err := ParseFaults(v)
		if err != nil {
			return Options{}, fmt.Errorf("RAGDEV_FAULTS: %w", err)
		}
		o.Faults = f
	}
	if v := getenv("RAGDEV_PIECE_DELAY"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return Options{}, fmt.Errorf("RAGDEV_PIECE_DELAY: invalid duration %q", v)
		}
		if d == 0 {
			d = -1
		}
		o.PieceDelay = d
	}
	o.Bearer = getenv("RAGDEV_BEARER")
	return o, nil
}

// Server is the dev RAG service. It is an http.Handler; see the package
// documentation for its endpoints. Its methods are safe for concurrent use.
type Server struct {
	opts    Options
	kbs     map[string]*index
	history *history
	mux     *http.ServeMux

	mu         sync.Mutex
	faults     Faults
	faultsLeft int // requests the global faults still apply to; 0 = no limit

	done      chan struct{}
	closeOnce sync.Once
}

// loadEmbedded parses the embedded knowledge bases once.
var loadEmbedded = sync.OnceValues(func() (map[string]*index, error) {
	return loadKnowledgeBases(embeddedKB)
})

// New returns a Server answering from the embedded knowledge bases. It
// panics if they do not parse, which the package's tests rule out.
func New(opts Options) *Server {
	kbs, err := loadEmbedded()
	if err != nil {
		panic(fmt.Sprintf("ragdev: embedded knowledge bases: %v", err))
	}
	opts = opts.withDefaults()
	s := &Server{
		opts:       opts,
		kbs:        kbs,
		history:    newHistory(opts.HistoryTurns, opts.HistorySessions, opts.HistoryTTL, opts.Now),
		mux:        http.NewServeMux(),
		faults:     opts.Faults,
		faultsLeft: opts.FaultCount,
		done:       make(chan struct{}),
	}
	s.mux.HandleFunc("POST /v1/chatbot/ask", s.ask)
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	s.mux.HandleFunc("GET /_faults", s.getFaults)
	s.mux.HandleFunc("PUT /_faults", s.putFaults)
	s.mux.HandleFunc("DELETE /_faults", s.deleteFaults)
	s.mux.HandleFunc("GET /_sessions/{sessionId}", s.getSession)
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// SetFaults switches the global faults to f for the next count requests
// without a fault marker (count <= 0: until changed). The zero Faults
// switches them off.
func (s *Server) SetFaults(f Faults, count int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults, s.faultsLeft = f, max(count, 0)
}

// History returns the remembered turns of a session, oldest first.
func (s *Server) History(sessionID string) []Turn { return s.history.turns(sessionID) }

// Close ends every stall and pause in progress, so that an http.Server
// serving s can shut down: a stream cut this way ends without [DONE], a
// request stalled before its headers is aborted. Later streams are cut at
// their first pause; call Close only when shutting down.
func (s *Server) Close() { s.closeOnce.Do(func() { close(s.done) }) }

// faultsFor returns the faults for one request: the marker's when the
// question had one, otherwise the global ones (counting them down).
func (s *Server) faultsFor(marker Faults, found bool) Faults {
	if found {
		return marker
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.faults
	if s.faultsLeft > 0 {
		if s.faultsLeft--; s.faultsLeft == 0 {
			s.faults = Faults{}
		}
	}
	return f
}

// askRequest is the RAG request body of the trace. Pointers tell missing
// fields from empty ones.
type askRequest struct {
	Chat *struct {
		Message    *string `json:"message"`
		Stream     *bool   `json:"stream"`
		UseHistory *bool   `json:"useHistory"`
	} `json:"chat"`
	Meta *struct {
		Category1  string  `json:"category1"`
		Category2  string  `json:"category2"`
		CompanyID  *string `json:"companyId"`
		SessionID  *string `json:"sessionId"`
		UserID     string  `json:"userId"`
		RagSysInfo string  `json:"ragSysInfo"`
	} `json:"meta"`
}

// question is a validated request.
type question struct {
	message, companyID, sessionID string
	stream, useHistory            bool
}

// errInvalid is a client error with the message the client sees.
type errInvalid struct {
	status  int
	code    string
	message string
}

func (e *errInvalid) Error() string { return e.message }

func invalid(format string, a ...any) *errInvalid {
	return &errInvalid{status: http.StatusBadRequest, code: "INVALID_REQUEST", message: fmt.Sprintf(format, a...)}
}

// decodeAsk reads and validates the request.
func decodeAsk(w http.ResponseWriter, r *http.Request) (question, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return question{}, &errInvalid{http.StatusUnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE", "Content-Type must be application/json"}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return question{}, &errInvalid{http.StatusRequestEntityTooLarge, "TOO_LARGE", fmt.Sprintf("body over %d bytes", maxBodyBytes)}
		}
		return question{}, invalid("cannot read body")
	}
	if !utf8.Valid(body) {
		return question{}, invalid("body is not valid UTF-8")
	}
	var req askRequest
	if err := json.Unmarshal(body, &req); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			return question{}, invalid("%s: wrong type %s", typeErr.Field, typeErr.Value)
		}
		return question{}, invalid("body is not a JSON object")
	}
	switch {
	case req.Chat == nil:
		return question{}, invalid("chat is required")
	case req.Chat.Message == nil:
		return question{}, invalid("chat.message is required")
	case strings.TrimSpace(*req.Chat.Message) == "":
		return question{}, invalid("chat.message is empty")
	case utf8.RuneCountInString(*req.Chat.Message) > maxMessageRunes:
		return question{}, invalid("chat.message is longer than %d characters", maxMessageRunes)
	case req.Meta == nil:
		return question{}, invalid("meta is required")
	case req.Meta.CompanyID == nil || strings.TrimSpace(*req.Meta.CompanyID) == "":
		return question{}, invalid("meta.companyId is required")
	case req.Meta.SessionID == nil || strings.TrimSpace(*req.Meta.SessionID) == "":
		return question{}, invalid("meta.sessionId is required")
	}
	q := question{
		message:   *req.Chat.Message,
		companyID: *req.Meta.CompanyID,
		sessionID: *req.Meta.SessionID,
		stream:    req.Chat.Stream == nil || *req.Chat.Stream,
	}
	if req.Chat.UseHistory != nil {
		q.useHistory = *req.Chat.UseHistory
	}
	return q, nil
}

func (s *Server) ask(w http.ResponseWriter, r *http.Request) {
	if s.opts.Bearer != "" && subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), []byte("Bearer "+s.opts.Bearer)) != 1 {
		s.opts.Logger.Info("ragdev: rejected request", "status", http.StatusUnauthorized, "reason", "missing or wrong bearer")
		w.Header().Set("WWW-Authenticate", `Bearer`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "missing or wrong bearer token"})
		return
	}
	q, err := decodeAsk(w, r)
	if err == nil {
		var found bool
		var marker Faults
		q.message, marker, found, err = splitMarker(q.message)
		if err == nil {
			s.answer(w, r, q, s.faultsFor(marker, found))
			return
		}
		err = invalid("%v", err)
	}
	var inv *errInvalid
	if !errors.As(err, &inv) {
		inv = invalid("invalid request")
	}
	s.opts.Logger.Info("ragdev: rejected request", "status", inv.status, "reason", inv.message)
	writeJSON(w, inv.status, map[string]string{"code": inv.code, "message": inv.message})
}

// answer produces the response to a valid question under faults f.
func (s *Server) answer(w http.ResponseWriter, r *http.Request, q question, f Faults) {
	log := s.opts.Logger.With("companyId", q.companyID, "sessionId", q.sessionID)
	switch {
	case f.Has(FaultRefuse):
		log.Info("ragdev: refusing", "faults", f.String())
		refuse(w)
		return
	case f.Has(FaultHTTP500):
		log.Info("ragdev: failing", "faults", f.String())
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusInternalServerError)
		io.WriteString(w, "Internal Server Error")
		return
	}
	t := s.reply(q)
	log.Info("ragdev: answering", "entry", t.EntryID, "followUp", t.FollowUp,
		"useHistory", q.useHistory, "faults", f.String(), "bytes", len(t.Answer))
	if f.Has(FaultJSON200) || !q.stream {
		w.Header().Set("Content-Type", "application/json")
		var b strings.Builder
		b.WriteString(`{"sessionId": `)
		writePyString(&b, q.sessionID)
		b.WriteString(`, "answer": `)
		writePyString(&b, t.Answer)
		b.WriteString(`, "isComplete": true}`)
		io.WriteString(w, b.String())
		return
	}
	s.stream(w, r, q.sessionID, t.Answer, f)
}

// reply answers the question from the company's knowledge base, reading a
// short question as a follow-up of the session's last topic when
// useHistory is set, and records the turn.
func (s *Server) reply(q question) Turn {
	var prev []Turn
	if q.useHistory {
		prev = s.history.turns(q.sessionID)
	}
	t := answerFrom(s.kbs[q.companyID], q.message, prev)
	s.history.add(q.sessionID, t)
	return t
}

// answerFrom answers question from ix (nil: unknown company) given the
// session's earlier turns.
func answerFrom(ix *index, question string, prev []Turn) Turn {
	t := Turn{Question: question}
	if ix != nil {
		m := ix.search(newQuery(question, ""))
		topic := topicOf(prev)
		if topic != "" && (!m.ok() || len(contentWords(question)) <= followUpWords) {
			if fm := ix.search(newQuery(question, topic)); fm.ok() {
				m = fm
				t.FollowUp = true
			}
		}
		if m.ok() {
			e := ix.kb.Entries[m.entry]
			t.Answer, t.EntryID, t.context = e.Answer, e.ID, e.Question
			return t
		}
	}
	t.Answer = fallbackAnswer(question)
	return t
}

// topicOf returns the topic of the most recent of the last few turns that
// had one.
func topicOf(turns []Turn) string {
	for i := len(turns) - 1; i >= 0 && i >= len(turns)-topicTurns; i-- {
		if turns[i].context != "" {
			return turns[i].context
		}
	}
	return ""
}

// refuse resets the connection without writing a response.
func refuse(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0) // RST instead of FIN
	}
	conn.Close()
}

// event kinds of a planned stream.
const (
	kindOpen = iota
	kindPiece
	kindMalformed
	kindFinal
	kindDone
)

type planned struct {
	kind    int
	payload string
}

// plan lays out the lines of an answer stream under faults f.
func plan(sessionID, answer string, f Faults) []planned {
	ps := pieces(answer)
	if f.Has(FaultHugeLine) {
		at := min(CutPieces, len(ps))
		ps = append(ps[:at], append([]string{hugeDelta(HugeLineBytes)}, ps[at:]...)...)
	}
	final := ""
	if f.Has(FaultCompleteWithText) && len(ps) > 0 {
		final, ps = ps[len(ps)-1], ps[:len(ps)-1]
	}
	out := []planned{{kindOpen, eventJSON(sessionID, "", false)}}
	for _, p := range ps {
		out = append(out, planned{kindPiece, eventJSON(sessionID, p, false)})
	}
	out = append(out, planned{kindFinal, eventJSON(sessionID, final, true)})
	if !f.Has(FaultNoDone) {
		out = append(out, planned{kindDone, "[DONE]"})
	}
	if f.Has(FaultMalformed) {
		bad := []string{
			`{"sessionId": "` + sessionID + `", "delta": "`,
			`<html><body>502 Bad Gateway</body></html>`,
			`undefined`,
		}
		// After the opening event, in the middle, before the final event.
		at := []int{1, len(out) / 2, len(out) - 2}
		for i := len(bad) - 1; i >= 0; i-- {
			out = append(out[:at[i]], append([]planned{{kindMalformed, bad[i]}}, out[at[i]:]...)...)
		}
	}
	return out
}

// stream writes answer as an SSE stream under faults f, flushing every
// line.
func (s *Server) stream(w http.ResponseWriter, r *http.Request, sessionID, answer string, f Faults) {
	ctx := r.Context()
	rc := http.NewResponseController(w)
	if f.Has(FaultStallHeaders) && !s.pause(r, f.Duration(FaultStallHeaders, s.opts.StallFor)) {
		panic(http.ErrAbortHandler) // no headers were sent: leave no response at all
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if rc.Flush() != nil {
		return
	}
	if f.Has(FaultStallBeforeFirst) && !s.pause(r, f.Duration(FaultStallBeforeFirst, s.opts.StallFor)) {
		return
	}
	fr := framingFor(f)
	delay := s.opts.PieceDelay
	if f.Has(FaultSlow) {
		delay = f.Duration(FaultSlow, s.opts.SlowPieceDelay)
	}
	lines := plan(sessionID, answer, f)
	cutAt := min(CutPieces, max(countPieces(lines)-1, 0))
	written := fr.preamble()
	sent, id := 0, 0
	for i, l := range lines {
		switch l.kind {
		case kindPiece, kindFinal:
			if l.kind == kindPiece && sent == cutAt {
				switch {
				case f.Has(FaultStallMid):
					if !s.pause(r, f.Duration(FaultStallMid, s.opts.StallFor)) {
						return
					}
				case f.Has(FaultEOFBeforeDone):
					return
				case f.Has(FaultResetMid):
					panic(http.ErrAbortHandler)
				}
			}
			if !s.pause(r, delay) {
				return
			}
			if l.kind == kindPiece {
				sent++
			}
		}
		id++
		written += fr.event(l.payload, id, i == len(lines)-1)
		if _, err := io.WriteString(w, written); err != nil || rc.Flush() != nil || ctx.Err() != nil {
			return
		}
		written = ""
	}
}

func countPieces(lines []planned) int {
	n := 0
	for _, l := range lines {
		if l.kind == kindPiece {
			n++
		}
	}
	return n
}

// pause waits for d. It reports false when the client went away or the
// server was closed first.
func (s *Server) pause(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		select {
		case <-s.done:
			return false
		default:
			return r.Context().Err() == nil
		}
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	case <-s.done:
		return false
	}
}

type faultsState struct {
	Faults string `json:"faults"`
	Count  int    `json:"count"`
}

func (s *Server) state() faultsState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return faultsState{Faults: s.faults.String(), Count: s.faultsLeft}
}

func (s *Server) getFaults(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.state())
}

func (s *Server) putFaults(w http.ResponseWriter, r *http.Request) {
	var st faultsState
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"code": "INVALID_REQUEST", "message": `body must be {"faults": "<spec>", "count": <n>}`})
		return
	}
	f, err := ParseFaults(st.Faults)
	if err != nil || st.Count < 0 {
		msg := "count must not be negative"
		if err != nil {
			msg = err.Error()
		}
		writeJSON(w, http.StatusBadRequest, map[string]string{"code": "INVALID_FAULTS", "message": msg})
		return
	}
	s.SetFaults(f, st.Count)
	s.opts.Logger.Info("ragdev: global faults set", "faults", f.String(), "count", st.Count)
	writeJSON(w, http.StatusOK, s.state())
}

func (s *Server) deleteFaults(w http.ResponseWriter, _ *http.Request) {
	s.SetFaults(Faults{}, 0)
	s.opts.Logger.Info("ragdev: global faults cleared")
	writeJSON(w, http.StatusOK, s.state())
}

func (s *Server) getSession(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("sessionId")
	turns := s.History(id)
	if turns == nil {
		turns = []Turn{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"sessionId": id, "turns": turns})
}

// writeJSON writes v as a JSON response with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
