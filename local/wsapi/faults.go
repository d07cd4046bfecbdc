package wsapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"
)

// Faults is the fault injection applied to @connections POSTs, in this
// order: LatencyMs of delay on every post; then, when Status is set, the
// next Count posts fail with Status (Count counts down; at 0 with Rate 0,
// Status clears), and after them (or from the start, with Count 0) each post
// fails with probability Rate. An injected failure delivers nothing. Status is one of 403 (ForbiddenException), 410 (GoneException),
// 429 (LimitExceededException) or 500 (InternalServerErrorException).
type Faults struct {
	LatencyMs int     `json:"latencyMs"`
	Status    int     `json:"status"`
	Count     int     `json:"count"`
	Rate      float64 `json:"rate"`
}

// faultErrors maps the injectable statuses to API Gateway's error types and
// messages.
var faultErrors = map[int]struct{ errorType, message string }{
	http.StatusForbidden:           {"ForbiddenException", "Forbidden"},
	http.StatusGone:                {"GoneException", ""},
	http.StatusTooManyRequests:     {"LimitExceededException", "Too Many Requests"},
	http.StatusInternalServerError: {"InternalServerErrorException", "Internal server error"},
}

func (f Faults) validate() error {
	if f.LatencyMs < 0 || f.LatencyMs > 60_000 {
		return fmt.Errorf("faults: latencyMs %d outside 0..60000", f.LatencyMs)
	}
	if _, ok := faultErrors[f.Status]; f.Status != 0 && !ok {
		return fmt.Errorf("faults: status %d not one of 403, 410, 429, 500", f.Status)
	}
	if f.Count < 0 {
		return fmt.Errorf("faults: negative count %d", f.Count)
	}
	if f.Rate < 0 || f.Rate > 1 {
		return fmt.Errorf("faults: rate %v outside 0..1", f.Rate)
	}
	return nil
}

type faultInjector struct {
	mu sync.Mutex
	f  Faults
}

func newFaultInjector(f Faults) (*faultInjector, error) {
	if err := f.validate(); err != nil {
		return nil, err
	}
	return &faultInjector{f: f}, nil
}

// next decides the latency and the failure status (0 = none) of one post.
func (fi *faultInjector) next() (time.Duration, int) {
	fi.mu.Lock()
	defer fi.mu.Unlock()
	latency := time.Duration(fi.f.LatencyMs) * time.Millisecond
	switch {
	case fi.f.Status == 0:
		return latency, 0
	case fi.f.Count > 0:
		status := fi.f.Status
		fi.f.Count--
		if fi.f.Count == 0 && fi.f.Rate == 0 {
			fi.f.Status = 0
		}
		return latency, status
	case fi.f.Rate > 0 && rand.Float64() < fi.f.Rate:
		return latency, fi.f.Status
	}
	return latency, 0
}

// SetFaults replaces the fault injection of @connections POSTs.
func (s *Server) SetFaults(f Faults) error {
	if err := f.validate(); err != nil {
		return err
	}
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	s.faults.f = f
	return nil
}

// Faults returns the current fault injection (Count is what remains).
func (s *Server) Faults() Faults {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	return s.faults.f
}

// writeFault answers an injected failure as API Gateway would.
func writeFault(w http.ResponseWriter, status int) {
	e := faultErrors[status]
	writeAPIError(w, status, e.errorType, e.message)
}

// Stats counts @connections POSTs since the server started or ResetStats.
type Stats struct {
	// Posts is every POST received, Delivered those that reached a client
	// (200), Bytes the payload bytes delivered.
	Posts     int64 `json:"posts"`
	Delivered int64 `json:"delivered"`
	Bytes     int64 `json:"bytes"`
	// Injected, Gone and TooLarge count injected failures, 410s for
	// unknown or closed connections and 413s.
	Injected int64 `json:"injected"`
	Gone     int64 `json:"gone"`
	TooLarge int64 `json:"tooLarge"`
	// Connections holds the counts per connection ID, for posts to
	// connections that were open when the post arrived.
	Connections map[string]ConnectionStats `json:"connections"`
}

// ConnectionStats counts the POSTs to one connection.
type ConnectionStats struct {
	Posts     int64 `json:"posts"`
	Delivered int64 `json:"delivered"`
	Bytes     int64 `json:"bytes"`
}

type statsRecorder struct {
	mu sync.Mutex
	st Stats
}

func newStatsRecorder() *statsRecorder {
	return &statsRecorder{st: Stats{Connections: map[string]ConnectionStats{}}}
}

func (r *statsRecorder) post(id string, live bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.st.Posts++
	if live {
		cs := r.st.Connections[id]
		cs.Posts++
		r.st.Connections[id] = cs
	}
}

func (r *statsRecorder) delivered(id string, n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.st.Delivered++
	r.st.Bytes += int64(n)
	cs := r.st.Connections[id]
	cs.Delivered++
	cs.Bytes += int64(n)
	r.st.Connections[id] = cs
}

func (r *statsRecorder) injected() { r.add(&r.st.Injected) }
func (r *statsRecorder) gone()     { r.add(&r.st.Gone) }
func (r *statsRecorder) tooLarge() { r.add(&r.st.TooLarge) }

func (r *statsRecorder) add(n *int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	*n++
}

// Stats returns a copy of the @connections POST counters.
func (s *Server) Stats() Stats {
	s.stats.mu.Lock()
	defer s.stats.mu.Unlock()
	st := s.stats.st
	st.Connections = maps.Clone(st.Connections)
	return st
}

// ResetStats sets every @connections POST counter to zero.
func (s *Server) ResetStats() {
	s.stats.mu.Lock()
	defer s.stats.mu.Unlock()
	s.stats.st = Stats{Connections: map[string]ConnectionStats{}}
}

// serveFaults: GET returns the Faults JSON, PUT replaces it (400 when
// invalid) and returns it, DELETE clears it (204).
func (s *Server) serveFaults(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		writeJSON(w, http.StatusOK, s.Faults())
	case http.MethodPut:
		f, err := decodeFaults(r.Body)
		if err == nil {
			err = s.SetFaults(f)
		}
		if err != nil {
			writeAPIError(w, http.StatusBadRequest, "BadRequestException", err.Error())
			return
		}
		writeJSON(w, http.StatusOK, s.Faults())
	case http.MethodDelete:
		_ = s.SetFaults(Faults{}) // the zero Faults is valid
		w.WriteHeader(http.StatusNoContent)
	default:
		writeAPIError(w, http.StatusMethodNotAllowed, "", "Method Not Allowed")
	}
}

func decodeFaults(body io.Reader) (Faults, error) {
	var f Faults
	dec := json.NewDecoder(io.LimitReader(body, 4096))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return Faults{}, fmt.Errorf("faults: invalid JSON: %w", err)
	}
	if dec.More() {
		return Faults{}, errors.New("faults: trailing data after JSON object")
	}
	return f, nil
}

// serveStats: GET returns the Stats JSON, DELETE resets it (204).
func (s *Server) serveStats(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		writeJSON(w, http.StatusOK, s.Stats())
	case http.MethodDelete:
		s.ResetStats()
		w.WriteHeader(http.StatusNoContent)
	default:
		writeAPIError(w, http.StatusMethodNotAllowed, "", "Method Not Allowed")
	}
}
