package wsapi

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"
)

// isoMillis is the timestamp format of GetConnection.
const isoMillis = "2006-01-02T15:04:05.000Z"

// serveConnection is the @connections API: POST sends the body as one frame
// (text when it is valid UTF-8, binary otherwise), GET describes the
// connection, DELETE closes it. A connection that does not exist, or no
// longer does, answers 410 GoneException. Authorization is not checked.
func (s *Server) serveConnection(w http.ResponseWriter, r *http.Request, id string) {
	switch r.Method {
	case http.MethodPost:
		s.postToConnection(w, r, id)
	case http.MethodGet:
		c := s.lookup(id)
		if c == nil {
			writeGone(w)
			return
		}
		writeJSON(w, http.StatusOK, connectionInfo{
			ConnectedAt:  c.connectedAt.UTC().Format(isoMillis),
			Identity:     identity{SourceIP: c.sourceIP, UserAgent: c.userAgent},
			LastActiveAt: c.lastActiveAt().UTC().Format(isoMillis),
		})
	case http.MethodDelete:
		c := s.lookup(id)
		if c == nil {
			writeGone(w)
			return
		}
		c.terminate(causeDeleted)
		w.WriteHeader(http.StatusNoContent)
	default:
		writeAPIError(w, http.StatusMethodNotAllowed, "", "Method Not Allowed")
	}
}

type connectionInfo struct {
	ConnectedAt  string   `json:"connectedAt"`
	Identity     identity `json:"identity"`
	LastActiveAt string   `json:"lastActiveAt"`
}

type identity struct {
	SourceIP  string `json:"sourceIp"`
	UserAgent string `json:"userAgent"`
}

// postToConnection counts the post, applies injected latency and failures,
// then delivers. The frame reaches the client after the injected latency,
// before the 200.
func (s *Server) postToConnection(w http.ResponseWriter, r *http.Request, id string) {
	live := s.lookup(id) != nil
	s.stats.post(id, live)
	limit := int64(s.cfg.MaxMessageBytes)
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		writeAPIError(w, http.StatusBadRequest, "BadRequestException", "Could not read request body")
		return
	}
	if int64(len(body)) > limit {
		s.stats.tooLarge()
		writeAPIError(w, http.StatusRequestEntityTooLarge, "PayloadTooLargeException", "Message too long")
		return
	}
	latency, status := s.faults.next()
	if latency > 0 {
		t := time.NewTimer(latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	if status != 0 {
		s.stats.injected()
		writeFault(w, status)
		return
	}
	c := s.lookup(id)
	if c == nil {
		s.stats.gone()
		writeGone(w)
		return
	}
	typ := websocket.MessageText
	if !utf8.Valid(body) {
		typ = websocket.MessageBinary
	}
	c.touch()
	// Not r.Context(): a caller giving up must not break the client's socket.
	if err := c.send(context.Background(), typ, body); err != nil {
		s.log.Debug("post to connection failed", "connectionId", id, "err", err)
		c.terminate(causeAbnormal)
		s.stats.gone()
		writeGone(w)
		return
	}
	s.stats.delivered(id, len(body))
	w.WriteHeader(http.StatusOK)
}

// writeGone answers 410 as API Gateway does: the GoneException error type
// header (what makes SDKs return a typed GoneException) and an empty body.
func writeGone(w http.ResponseWriter) {
	writeAPIError(w, http.StatusGone, "GoneException", "")
}

// writeAPIError is the one error writer of this package: status, the
// X-Amzn-ErrorType header when errorType is set, and a {"message": ...} body
// unless message is empty.
func writeAPIError(w http.ResponseWriter, status int, errorType, message string) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Amzn-RequestId", newID())
	if errorType != "" {
		h.Set("X-Amzn-ErrorType", errorType)
	}
	if message == "" {
		h.Set("Content-Length", "0")
		w.WriteHeader(status)
		return
	}
	writeJSON(w, status, struct {
		Message string `json:"message"`
	}{message})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b) // the client may be gone; nothing to do about it
}
