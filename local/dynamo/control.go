package dynamo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// controlPrefix is the path under which the handler serves its control API.
// The DynamoDB protocol only ever posts to "/", so the two never meet.
const controlPrefix = "/_local/"

// The control API lets another process (a test driving the local stack, a
// benchmark, curl) read request counts and inject faults:
//
//	GET    /_local/counts        {"calls":[{"operation":"GetItem","table":"T","count":3},...]}
//	GET    /_local/faults        {"faults":[{"id":1,"operation":"GetItem","table":"T","remaining":2,"hits":1}]}
//	POST   /_local/faults        body {"operation":"GetItem","table":"T","n":3} -> 201 {"id":1}
//	DELETE /_local/faults/{id}   204, or 404 for an unknown id
//
// POST /_local/faults is Throttle: "operation" and "table" may be empty
// (any), "n" < 0 means until deleted.

// callJSON is one entry of GET /_local/counts.
type callJSON struct {
	Operation string `json:"operation"`
	Table     string `json:"table"`
	Count     int    `json:"count"`
}

// faultJSON is one fault of GET and POST /_local/faults.
type faultJSON struct {
	ID        int    `json:"id"`
	Operation string `json:"operation"`
	Table     string `json:"table"`
	N         int    `json:"n,omitempty"`
	Remaining int    `json:"remaining"`
	Hits      int    `json:"hits"`
}

func (h *Handler) serveControl(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, controlPrefix)
	switch {
	case path == "counts" && r.Method == http.MethodGet:
		counts := h.Counts()
		calls := make([]callJSON, 0, len(counts))
		for c, n := range counts {
			calls = append(calls, callJSON{Operation: c.Operation, Table: c.Table, Count: n})
		}
		slices.SortFunc(calls, func(a, b callJSON) int {
			return strings.Compare(a.Operation+"\x00"+a.Table, b.Operation+"\x00"+b.Table)
		})
		writeJSON(w, map[string]any{"calls": calls})
	case path == "faults" && r.Method == http.MethodGet:
		h.mu.Lock()
		faults := make([]faultJSON, len(h.faults))
		for i, f := range h.faults {
			faults[i] = faultJSON{ID: f.id, Operation: f.operation, Table: f.table, Remaining: f.remaining, Hits: f.hits}
		}
		h.mu.Unlock()
		writeJSON(w, map[string]any{"faults": faults})
	case path == "faults" && r.Method == http.MethodPost:
		var req faultJSON
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&req); err != nil {
			http.Error(w, "body must be {\"operation\":..., \"table\":..., \"n\":...}", http.StatusBadRequest)
			return
		}
		if req.N == 0 {
			http.Error(w, "n must not be 0 (n < 0: until deleted)", http.StatusBadRequest)
			return
		}
		f := h.Throttle(req.Operation, req.Table, req.N)
		writeJSONStatus(w, http.StatusCreated, map[string]int{"id": f.id})
	case strings.HasPrefix(path, "faults/") && r.Method == http.MethodDelete:
		id, err := strconv.Atoi(strings.TrimPrefix(path, "faults/"))
		if err != nil {
			http.Error(w, "fault id must be a number", http.StatusBadRequest)
			return
		}
		h.mu.Lock()
		n := len(h.faults)
		h.faults = slices.DeleteFunc(h.faults, func(f *Fault) bool { return f.id == id })
		removed := len(h.faults) < n
		h.mu.Unlock()
		if !removed {
			http.Error(w, "no such fault", http.StatusNotFound)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		http.Error(w, "unknown control request", http.StatusNotFound)
	}
}

// Control is a client of a running server's control API, for processes
// that do not hold the *Server (e.g. tests of a separately started local
// stack). URL is the server's URL as Server.URL returns it.
type Control struct {
	URL    string
	Client *http.Client // nil: http.DefaultClient
}

// Counts returns the server's request counts (see Handler.Counts).
func (c Control) Counts(ctx context.Context) (Counts, error) {
	var resp struct {
		Calls []callJSON `json:"calls"`
	}
	if err := c.do(ctx, http.MethodGet, "counts", nil, http.StatusOK, &resp); err != nil {
		return nil, err
	}
	counts := Counts{}
	for _, call := range resp.Calls {
		counts[Call{Operation: call.Operation, Table: call.Table}] = call.Count
	}
	return counts, nil
}

// Throttle adds a fault as Handler.Throttle does and returns its id.
func (c Control) Throttle(ctx context.Context, operation, table string, n int) (int, error) {
	var resp struct {
		ID int `json:"id"`
	}
	body, _ := json.Marshal(faultJSON{Operation: operation, Table: table, N: n})
	if err := c.do(ctx, http.MethodPost, "faults", body, http.StatusCreated, &resp); err != nil {
		return 0, err
	}
	return resp.ID, nil
}

// RemoveFault removes the fault with the given id.
func (c Control) RemoveFault(ctx context.Context, id int) error {
	return c.do(ctx, http.MethodDelete, "faults/"+strconv.Itoa(id), nil, http.StatusNoContent, nil)
}

func (c Control) do(ctx context.Context, method, path string, body []byte, want int, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.URL, "/")+controlPrefix+path, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("dynamo control %s %s: %w", method, path, err)
	}
	hc := c.Client
	if hc == nil {
		hc = http.DefaultClient
	}
	res, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("dynamo control %s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	if res.StatusCode != want {
		msg, _ := io.ReadAll(io.LimitReader(res.Body, 512))
		return fmt.Errorf("dynamo control %s %s: %s: %s", method, path, res.Status, strings.TrimSpace(string(msg)))
	}
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(res.Body).Decode(out); err != nil {
		return fmt.Errorf("dynamo control %s %s: decode response: %w", method, path, err)
	}
	return nil
}
