// Package dynamo is ragchat's embedded DynamoDB: an in-process, pure Go
// server speaking the DynamoDB JSON protocol over real HTTP, so that the
// unchanged aws-sdk-go-v2 client (and the aws CLI) can use it through
// AWS_ENDPOINT_URL_DYNAMODB. The engine is github.com/truora/minidyn; this
// package puts its own HTTP front end on it and fixes what ragchat and its
// tools need:
//
//   - empty lists and maps ({"L":[]}, {"M":{}}) are returned as stored
//     (minidyn's own HTTP handler drops them, and the SDK then decodes an
//     unrelated value), so the engine is called through its Go API and
//     responses are encoded here;
//   - PutItem returns nothing by default and the old item for ALL_OLD
//     (minidyn always returns the new item);
//   - table management is serialised with item operations (minidyn guards
//     its table map only for item operations, which the race detector
//     reports when tests create tables in parallel);
//   - table descriptions carry TableStatus ACTIVE, TableArn and the
//     AttributeDefinitions, so SDK table waiters and tools work;
//   - UpdateTimeToLive and DescribeTimeToLive are implemented (the setting is
//     recorded; expired items are never deleted, as with DynamoDB Local, so
//     readers must filter on the TTL attribute);
//   - ListTables is implemented;
//   - UpdateItem's ReturnValues ALL_OLD, UPDATED_OLD and UPDATED_NEW keep
//     empty lists and maps (minidyn's deep copies drop them);
//   - UpdateItem's REMOVE takes top-level attributes off the item (minidyn
//     leaves them on; see remove.go). minidyn also loses index entries when
//     an UpdateItem adds or removes an index key attribute: ragchat's items
//     always carry their index keys and change only their values;
//   - transactions are refused with UnknownOperationException, as dynalite
//     refuses them: minidyn's rollback drops every empty list and map of
//     the table, and ragchat does not use transactions;
//   - unknown operations and malformed requests get DynamoDB-shaped JSON
//     errors the SDK can decode, instead of plain-text bodies.
//
// For tests it counts requests per operation and table (Counts) and injects
// ProvisionedThroughputExceededException on chosen operations and tables
// (Throttle), in process or from another process through a small control
// API under /_local/ (see Control), e.g.
//
//	curl -X POST 127.0.0.1:8000/_local/faults -d '{"operation":"GetItem","table":"T","n":-1}'
//
// It also rejects what DynamoDB rejects and minidyn lets through: items over
// 400 KB, empty strings or binaries in table or index key attributes,
// strongly consistent reads on a global secondary index.
//
// Limits: data lives in memory only; TTL never deletes; a Query or Scan
// costs time in proportion to the whole table (minidyn evaluates the key
// condition on every item), which is fine at development sizes (about
// 15 µs per item on a busy 2-core machine).
package dynamo

import (
	"fmt"
	"net"
	"net/http"
	"time"
)

// Server is a running embedded DynamoDB. Its Handler methods (Counts,
// Throttle) are available on it directly.
type Server struct {
	*Handler
	ln  net.Listener
	srv *http.Server
}

// Start serves a new, empty embedded DynamoDB on addr ("127.0.0.1:8000",
// or "127.0.0.1:0" for a free port) until Close.
func Start(addr string) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("embedded dynamodb: listen on %s: %w", addr, err)
	}
	h := NewHandler()
	s := &Server{
		Handler: h,
		ln:      ln,
		srv:     &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second},
	}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// URL is the server's endpoint, e.g. "http://127.0.0.1:8000", the value for
// AWS_ENDPOINT_URL_DYNAMODB.
func (s *Server) URL() string {
	return "http://" + s.ln.Addr().String()
}

// Close stops the server at once, closing its connections (requests in
// flight fail). The data is lost.
func (s *Server) Close() error {
	if err := s.srv.Close(); err != nil {
		return fmt.Errorf("embedded dynamodb: close: %w", err)
	}
	return nil
}
