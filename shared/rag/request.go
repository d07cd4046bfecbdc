package rag

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Request is one question for the RAG service.
type Request struct {
	Message    string // the customer's question
	Category1  string // optional category filters, "" when unused
	Category2  string
	CompanyID  string // the tenant, "apt001" in the trace
	SessionID  string // the room id
	UserName   string // the display name; sent as meta.userId, as the service expects
	UseHistory bool   // let the service use the session's earlier turns (the trace sends true)
}

// askBody is the wire shape of a question. Field order is the trace's key
// order; do not reorder.
type askBody struct {
	Chat askChat `json:"chat"`
	Meta askMeta `json:"meta"`
}

type askChat struct {
	Message    string `json:"message"`
	Stream     bool   `json:"stream"`
	UseHistory bool   `json:"useHistory"`
}

type askMeta struct {
	Category1  string `json:"category1"`
	Category2  string `json:"category2"`
	CompanyID  string `json:"companyId"`
	SessionID  string `json:"sessionId"`
	UserID     string `json:"userId"`
	RAGSysInfo string `json:"ragSysInfo"`
}

// encodeRequest returns the request body byte-compatible with the trace:
// the trace's key order, compact, UTF-8 text unescaped (no \uXXXX for
// Hangul, no HTML escaping of <, > and &), no trailing newline. Invalid
// UTF-8 in a field is replaced by U+FFFD.
func encodeRequest(r Request, sysInfo string) ([]byte, error) {
	body := askBody{
		Chat: askChat{Message: r.Message, Stream: true, UseHistory: r.UseHistory},
		Meta: askMeta{
			Category1:  r.Category1,
			Category2:  r.Category2,
			CompanyID:  r.CompanyID,
			SessionID:  r.SessionID,
			UserID:     r.UserName,
			RAGSysInfo: sysInfo,
		},
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(body); err != nil {
		return nil, fmt.Errorf("encode RAG request: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
