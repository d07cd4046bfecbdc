package dynamo

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"

	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/truora/minidyn/server"
)

// maxRequestBytes bounds one request body; DynamoDB's own limit for the
// largest request (BatchWriteItem) is 16 MB.
const maxRequestBytes = 16 << 20

// Handler is an http.Handler speaking the DynamoDB JSON protocol (1.0) over
// minidyn's in-memory engine, with the fixes and additions listed in the
// package documentation, request counting and fault injection.
// It is safe for concurrent use.
type Handler struct {
	engine *server.Client

	// engineMu makes table management (CreateTable, DeleteTable, ...)
	// exclusive: minidyn guards its table map only for item operations.
	engineMu sync.RWMutex

	mu          sync.Mutex
	counts      Counts
	faults      []*Fault
	lastFaultID int
	ttl         map[string]ttlSpec   // by table name
	tables      map[string]tableMeta // existing tables
}

// tableMeta is what the handler keeps about a table besides the engine: the
// attribute definitions (minidyn does not describe them) and the names of
// the global secondary indexes.
type tableMeta struct {
	attributes []ddbtypes.AttributeDefinition
	keys       []string            // the table's key attributes
	gsis       map[string][]string // index name -> its key attributes
}

type ttlSpec struct {
	Enabled       bool
	AttributeName string
}

// NewHandler returns a Handler with no tables.
func NewHandler() *Handler {
	return &Handler{
		engine: server.NewClient(),
		counts: Counts{},
		ttl:    map[string]ttlSpec{},
		tables: map[string]tableMeta{},
	}
}

// requestTables is the part of any request body that names tables.
type requestTables struct {
	ReturnValues  string                     `json:"ReturnValues"`
	UpdateExpr    string                     `json:"UpdateExpression"`
	TableName     string                     `json:"TableName"`
	RequestItems  map[string]json.RawMessage `json:"RequestItems"`
	TransactItems []map[string]struct {
		TableName string `json:"TableName"`
	} `json:"TransactItems"`
}

func (r requestTables) names() []string {
	seen := map[string]bool{}
	if r.TableName != "" {
		seen[r.TableName] = true
	}
	for name := range r.RequestItems {
		seen[name] = true
	}
	for _, item := range r.TransactItems {
		for _, action := range item {
			if action.TableName != "" {
				seen[action.TableName] = true
			}
		}
	}
	names := make([]string, 0, len(seen))
	for name := range seen {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// ServeHTTP answers one DynamoDB API request, or a control request under
// /_local/ (the control API, see Control). The operation comes from the X-Amz-Target
// header ("DynamoDB_20120810.<Operation>"). Every request is counted per
// operation and table before faults are applied, so a throttled request
// still counts, as it does on AWS.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, controlPrefix) {
		h.serveControl(w, r)
		return
	}
	if r.Method != http.MethodPost {
		writeError(w, http.StatusMethodNotAllowed, "UnknownOperationException", "only POST is supported")
		return
	}
	target := r.Header.Get("X-Amz-Target")
	service, op, ok := strings.Cut(target, ".")
	if !ok || service != "DynamoDB_20120810" {
		writeError(w, http.StatusBadRequest, "UnknownOperationException", fmt.Sprintf("unknown target %q", target))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBytes+1))
	if err != nil {
		writeError(w, http.StatusBadRequest, "SerializationException", "cannot read request body")
		return
	}
	if len(body) > maxRequestBytes {
		writeError(w, http.StatusRequestEntityTooLarge, "ValidationException", "request body too large")
		return
	}
	var rt requestTables
	if err := json.Unmarshal(body, &rt); err != nil {
		writeError(w, http.StatusBadRequest, "SerializationException", "request body is not a JSON object")
		return
	}
	names := rt.names()
	if f := h.record(op, names); f != nil {
		if f.unprocessed {
			writeUnprocessed(w, body)
			return
		}
		writeError(w, http.StatusBadRequest, f.errorType, f.message)
		return
	}

	switch op {
	case "UpdateTimeToLive":
		h.updateTimeToLive(w, body)
	case "DescribeTimeToLive":
		h.describeTimeToLive(w, rt.TableName)
	case "ListTables":
		h.listTables(w, body)
	case "CreateTable", "DescribeTable", "UpdateTable", "DeleteTable":
		h.engineMu.Lock()
		resp, err := h.tableOperation(r.Context(), op, body)
		h.engineMu.Unlock()
		h.reply(w, resp, err)
	case "TransactGetItems", "TransactWriteItems":
		writeError(w, http.StatusBadRequest, "UnknownOperationException",
			"transactions are not supported here (minidyn's rollback loses empty lists and maps; dynalite has none; ragchat does not use them)")
	case "GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan",
		"BatchGetItem", "BatchWriteItem":
		// Writes returning values are read-write-read sequences: exclusive.
		lock, unlock := h.engineMu.RLock, h.engineMu.RUnlock
		// So are updates that REMOVE (see remove.go).
		if (op == "PutItem" || op == "UpdateItem") && rt.ReturnValues != "" && rt.ReturnValues != string(ddbtypes.ReturnValueNone) ||
			op == "UpdateItem" && hasRemove(rt.UpdateExpr) {
			lock, unlock = h.engineMu.Lock, h.engineMu.Unlock
		}
		lock()
		resp, err := h.itemOperation(r.Context(), op, body)
		unlock()
		h.reply(w, resp, err)
	default:
		writeError(w, http.StatusBadRequest, "UnknownOperationException", fmt.Sprintf("operation %s is not supported", op))
	}
}

// updateTimeToLive records a table's TTL setting. Like DynamoDB Local, the
// embedded server never deletes expired items: readers must filter.
func (h *Handler) updateTimeToLive(w http.ResponseWriter, body []byte) {
	var req struct {
		TableName               string  `json:"TableName"`
		TimeToLiveSpecification ttlSpec `json:"TimeToLiveSpecification"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		writeError(w, http.StatusBadRequest, "SerializationException", "malformed UpdateTimeToLive request")
		return
	}
	spec := req.TimeToLiveSpecification
	if spec.AttributeName == "" {
		writeError(w, http.StatusBadRequest, "ValidationException", "TimeToLiveSpecification.AttributeName must not be empty")
		return
	}
	h.mu.Lock()
	_, exists := h.tables[req.TableName]
	current, had := h.ttl[req.TableName]
	if exists && !(had && current.Enabled == spec.Enabled) {
		h.ttl[req.TableName] = spec
	}
	h.mu.Unlock()
	switch {
	case !exists:
		writeError(w, http.StatusBadRequest, "ResourceNotFoundException", "Requested resource not found: Table: "+req.TableName+" not found")
	case had && current.Enabled == spec.Enabled:
		writeError(w, http.StatusBadRequest, "ValidationException", "TimeToLive is already "+ttlStatus(current.Enabled))
	default:
		writeJSON(w, map[string]any{"TimeToLiveSpecification": spec})
	}
}

func (h *Handler) describeTimeToLive(w http.ResponseWriter, table string) {
	h.mu.Lock()
	_, exists := h.tables[table]
	spec, had := h.ttl[table]
	h.mu.Unlock()
	if !exists {
		writeError(w, http.StatusBadRequest, "ResourceNotFoundException", "Requested resource not found: Table: "+table+" not found")
		return
	}
	desc := map[string]any{"TimeToLiveStatus": "DISABLED"}
	if had {
		desc = map[string]any{"TimeToLiveStatus": ttlStatus(spec.Enabled), "AttributeName": spec.AttributeName}
	}
	writeJSON(w, map[string]any{"TimeToLiveDescription": desc})
}

func ttlStatus(enabled bool) string {
	if enabled {
		return "ENABLED"
	}
	return "DISABLED"
}

// listTables answers ListTables with the existing table names in order,
// honouring ExclusiveStartTableName and Limit (default and maximum 100).
func (h *Handler) listTables(w http.ResponseWriter, body []byte) {
	var req struct {
		ExclusiveStartTableName string `json:"ExclusiveStartTableName"`
		Limit                   int    `json:"Limit"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		writeError(w, http.StatusBadRequest, "SerializationException", "malformed ListTables request")
		return
	}
	if req.Limit <= 0 || req.Limit > 100 {
		req.Limit = 100
	}
	h.mu.Lock()
	names := make([]string, 0, len(h.tables))
	for name := range h.tables {
		if name > req.ExclusiveStartTableName {
			names = append(names, name)
		}
	}
	h.mu.Unlock()
	sort.Strings(names)
	resp := map[string]any{"TableNames": names}
	if len(names) > req.Limit {
		names = names[:req.Limit]
		resp = map[string]any{"TableNames": names, "LastEvaluatedTableName": names[len(names)-1]}
	}
	writeJSON(w, resp)
}

func (h *Handler) reply(w http.ResponseWriter, resp any, err error) {
	if err != nil {
		writeEngineError(w, err)
		return
	}
	writeJSON(w, resp)
}

func writeJSON(w http.ResponseWriter, v any) {
	writeJSONStatus(w, http.StatusOK, v)
}

// writeJSONStatus encodes v first, so that an encoding failure becomes a
// 500 InternalServerError instead of a truncated body.
func writeJSONStatus(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		status = http.StatusInternalServerError
		buf.Reset()
		_ = json.NewEncoder(&buf).Encode(map[string]string{
			"__type": typePrefix + "InternalServerError", "message": "encode response: " + err.Error(),
		})
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	// DynamoDB's checksum of the body; the SDK verifies it and warns
	// ("response did not match expected checksum") when it is missing.
	w.Header().Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE(buf.Bytes())), 10))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// writeError writes a DynamoDB error body; the SDK takes the error type from
// the part of __type after '#'.
// writeUnprocessed answers a BatchGetItem body with nothing read: its
// RequestItems come back as UnprocessedKeys (LeaveUnprocessed).
func writeUnprocessed(w http.ResponseWriter, body []byte) {
	var in struct{ RequestItems json.RawMessage }
	if err := json.Unmarshal(body, &in); err != nil {
		writeError(w, http.StatusBadRequest, "SerializationException", err.Error())
		return
	}
	writeJSON(w, map[string]any{"Responses": map[string]any{}, "UnprocessedKeys": in.RequestItems})
}

func writeError(w http.ResponseWriter, status int, errorType, message string) {
	writeJSONStatus(w, status, map[string]string{"__type": typePrefix + errorType, "message": message})
}
