package lambda

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// Runtime API headers, as aws-lambda-go reads and writes them.
const (
	headerRequestID     = "Lambda-Runtime-Aws-Request-Id"
	headerDeadlineMs    = "Lambda-Runtime-Deadline-Ms"
	headerFunctionARN   = "Lambda-Runtime-Invoked-Function-Arn"
	headerTraceID       = "Lambda-Runtime-Trace-Id"
	headerErrorType     = "Lambda-Runtime-Function-Error-Type"
	trailerErrorType    = "Lambda-Runtime-Function-Error-Type"
	trailerErrorBody    = "Lambda-Runtime-Function-Error-Body"
	runtimeAPIVersion   = "/2018-06-01"
	defaultErrorType    = "Unhandled"
	maxErrorReportBytes = 1 << 20
)

// invocation is one event on its way through an environment.
type invocation struct {
	id       string
	traceID  string
	payload  []byte
	deadline time.Time   // set before the hand-over to /next
	done     chan result // the runtime's answer, at most one
	result   chan result // run's outcome, for Invoke
}

// result is the outcome of an invocation.
type result struct {
	payload  []byte
	err      error
	maxMemMB int
}

func newInvocation(payload []byte) *invocation {
	return &invocation{
		id:      newRequestID(),
		traceID: newTraceID(time.Now()),
		payload: payload,
		done:    make(chan result, 1),
		result:  make(chan result, 1),
	}
}

// runtimeAPI serves the Runtime API for this environment.
func (e *env) runtimeAPI() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+runtimeAPIVersion+"/runtime/invocation/next", e.handleNext)
	mux.HandleFunc("POST "+runtimeAPIVersion+"/runtime/invocation/{id}/response", e.handleResponse)
	mux.HandleFunc("POST "+runtimeAPIVersion+"/runtime/invocation/{id}/error", e.handleError)
	mux.HandleFunc("POST "+runtimeAPIVersion+"/runtime/init/error", e.handleInitError)
	return mux
}

// handleNext long-polls for the next invocation.
func (e *env) handleNext(w http.ResponseWriter, r *http.Request) {
	e.markReady()
	select {
	case e.polled <- struct{}{}:
	default:
	}
	var inv *invocation
	select {
	case inv = <-e.pending:
	case <-r.Context().Done():
		return
	case <-e.exited:
		return
	}
	e.mu.Lock()
	e.current = inv
	e.mu.Unlock()

	cfg := e.fn.cfg
	opts := e.fn.pool.opts
	h := w.Header()
	h.Set(headerRequestID, inv.id)
	h.Set(headerDeadlineMs, strconv.FormatInt(inv.deadline.UnixMilli(), 10))
	h.Set(headerFunctionARN, fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", opts.Region, opts.AccountID, cfg.Name))
	h.Set(headerTraceID, inv.traceID)
	h.Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(inv.payload)
}

// claim returns the invocation the runtime is answering, if id names the
// current one, and makes it no longer current.
func (e *env) claim(id string) *invocation {
	e.mu.Lock()
	defer e.mu.Unlock()
	inv := e.current
	if inv == nil || inv.id != id {
		return nil
	}
	e.current = nil
	return inv
}

// isCurrent reports whether id names the current invocation.
func (e *env) isCurrent(id string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.current != nil && e.current.id == id
}

// handleResponse takes the function's response. A body cut short by the
// runtime's error trailers (a response stream that failed) is a function
// error; a body over MaxResponseBytes fails the invocation as on Lambda.
func (e *env) handleResponse(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !e.isCurrent(id) {
		writeAPIError(w, http.StatusBadRequest, "InvalidRequestID", "Invalid request ID: "+id)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxResponseBytes+1))
	if err != nil {
		writeAPIError(w, http.StatusBadRequest, "InvalidRequest", "Cannot read the response body")
		return
	}
	inv := e.claim(id)
	if inv == nil {
		writeAPIError(w, http.StatusBadRequest, "InvalidRequestID", "Invalid request ID: "+id)
		return
	}
	if len(body) > MaxResponseBytes {
		inv.done <- result{err: &FunctionError{Type: "Function.ResponseSizeTooLarge",
			Message: fmt.Sprintf("Response payload size exceeded maximum allowed payload size (%d bytes).", MaxResponseBytes)}}
		writeAPIError(w, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge",
			fmt.Sprintf("Exceeded maximum allowed payload size (%d bytes).", MaxResponseBytes))
		return
	}
	if t := r.Trailer.Get(trailerErrorType); t != "" {
		fe := &FunctionError{Type: t}
		if raw, err := base64.StdEncoding.DecodeString(r.Trailer.Get(trailerErrorBody)); err == nil {
			fe = parseFunctionError(raw, t)
		}
		inv.done <- result{err: fe}
	} else {
		inv.done <- result{payload: body}
	}
	writeAccepted(w)
}

// handleError takes an error the handler returned or a panic.
func (e *env) handleError(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !e.isCurrent(id) {
		writeAPIError(w, http.StatusBadRequest, "InvalidRequestID", "Invalid request ID: "+id)
		return
	}
	raw, _ := io.ReadAll(io.LimitReader(r.Body, maxErrorReportBytes))
	inv := e.claim(id)
	if inv == nil {
		writeAPIError(w, http.StatusBadRequest, "InvalidRequestID", "Invalid request ID: "+id)
		return
	}
	inv.done <- result{err: parseFunctionError(raw, r.Header.Get(headerErrorType))}
	writeAccepted(w)
}

// handleInitError takes an error the runtime reports from its init phase;
// the environment is then killed.
func (e *env) handleInitError(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(io.LimitReader(r.Body, maxErrorReportBytes))
	select {
	case e.initErr <- parseFunctionError(raw, r.Header.Get(headerErrorType)):
	default:
	}
	writeAccepted(w)
}

// parseFunctionError reads an error report ({"errorMessage", "errorType"});
// the header's type is the fallback, and a body that is not such JSON is
// the message.
func parseFunctionError(raw []byte, headerType string) *FunctionError {
	var fe FunctionError
	if err := json.Unmarshal(raw, &fe); err != nil {
		fe = FunctionError{Message: string(bytes.TrimSpace(raw))}
	}
	if fe.Type == "" {
		fe.Type = headerType
	}
	if fe.Type == "" {
		fe.Type = defaultErrorType
	}
	return &fe
}

func writeAccepted(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_, _ = io.WriteString(w, `{"status":"OK"}`)
}

func writeAPIError(w http.ResponseWriter, status int, typ, msg string) {
	body, _ := json.Marshal(FunctionError{Type: typ, Message: msg})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// newRequestID returns a random UUID (version 4), the form of Lambda's
// request IDs.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// newTraceID returns an X-Ray trace header for an unsampled request.
func newTraceID(now time.Time) string {
	var root [12]byte
	var parent [8]byte
	_, _ = rand.Read(root[:])
	_, _ = rand.Read(parent[:])
	return fmt.Sprintf("Root=1-%08x-%s;Parent=%s;Sampled=0", now.Unix(), hex.EncodeToString(root[:]), hex.EncodeToString(parent[:]))
}

// logStreamName returns a log stream name of Lambda's form.
func logStreamName(now time.Time) string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return now.UTC().Format("2006/01/02") + "/[$LATEST]" + hex.EncodeToString(b[:])
}
