// Package apigw is ragchat's one way to answer API Gateway: the JSON error
// writer and the response helpers for the HTTP API (payload format 2.0,
// events.APIGatewayV2HTTPResponse) and for WebSocket routes
// (events.APIGatewayProxyResponse), plus request decoding helpers that turn
// bad input into the right 4xx.
//
// Every error body has the shape {"code":"...","message":"..."}. Handlers
// return an *Error for anything the client did wrong and pass it (or any
// other error) to HTTPError or WSError; errors that are not an *Error become
// a 500 INTERNAL whose message says nothing about the cause, so internals
// never reach a client. Handlers log the cause themselves.
package apigw

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// Error codes of HTTP and $connect error responses.
const (
	CodeBadRequest         = "BAD_REQUEST"          // 400: malformed input
	CodeInvalidCredentials = "INVALID_CREDENTIALS"  // 401: login failed
	CodeUnauthorized       = "UNAUTHORIZED"         // 401: missing or invalid token
	CodeForbidden          = "FORBIDDEN"            // 403: not yours
	CodeNotFound           = "NOT_FOUND"            // 404: a route the function does not serve
	CodeTooLarge           = "PAYLOAD_TOO_LARGE"    // 413: body over the limit
	CodeLoginThrottled     = "LOGIN_THROTTLED"      // 429: too many failed logins
	CodeRoomLimit          = "ROOM_LIMIT"           // 429: too many rooms created
	CodeTooManySockets     = "TOO_MANY_CONNECTIONS" // 429: the room's connection cap
	CodeInternal           = "INTERNAL"             // 500: anything else
)

// Error is an error a client caused or may be told about: it is answered
// with Status and the body {"code": Code, "message": Message}. Message must
// be safe to show to a client.
type Error struct {
	Status  int
	Code    string
	Message string
}

// NewError returns an *Error with the given status, code and client-safe message.
func NewError(status int, code, message string) *Error {
	return &Error{Status: status, Code: code, Message: message}
}

// ErrUnknownRoute answers an event of a route the function does not serve
// (a template that routes it to the wrong function).
var ErrUnknownRoute = NewError(http.StatusNotFound, CodeNotFound, "no such route")

// BadRequest returns a 400 BAD_REQUEST error with a client-safe message.
func BadRequest(format string, args ...any) *Error {
	return NewError(http.StatusBadRequest, CodeBadRequest, fmt.Sprintf(format, args...))
}

// Error implements error.
func (e *Error) Error() string {
	return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message)
}

// ErrorBody is the JSON body of every error response.
type ErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// internalError answers every error that is not an *Error.
var internalError = &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "internal error"}

// clientError returns err as an *Error, or the generic 500 when it is not one.
func clientError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return internalError
}

// headers returns the headers of every JSON response: never cached, since
// responses carry tokens and per-user data.
func headers() map[string]string {
	return map[string]string{
		"Content-Type":  "application/json; charset=utf-8",
		"Cache-Control": "no-store",
	}
}

// marshal encodes v, falling back to the generic 500 body if it cannot be
// encoded (which only a programming error causes).
func marshal(status int, v any) (int, string) {
	b, err := json.Marshal(v)
	if err != nil {
		b, _ = json.Marshal(ErrorBody{Code: internalError.Code, Message: internalError.Message})
		return internalError.Status, string(b)
	}
	return status, string(b)
}

// HTTPJSON returns an HTTP API response with status and v encoded as JSON.
func HTTPJSON(status int, v any) events.APIGatewayV2HTTPResponse {
	status, body := marshal(status, v)
	return events.APIGatewayV2HTTPResponse{StatusCode: status, Headers: headers(), Body: body}
}

// HTTPError returns the HTTP API error response for err: an *Error's own
// status, code and message, or 500 INTERNAL for any other error; for a
// RetryLater also the Retry-After header.
func HTTPError(err error) events.APIGatewayV2HTTPResponse {
	e := clientError(err)
	resp := HTTPJSON(e.Status, ErrorBody{Code: e.Code, Message: e.Message})
	var later RetryLater
	if errors.As(err, &later) {
		resp.Headers["Retry-After"] = strconv.Itoa(max(1, int(math.Ceil(later.After.Seconds()))))
	}
	return resp
}

// RetryLater is a refusal (a 429) the client may try again after a while:
// HTTPError answers it as Err with Retry-After: After in whole seconds,
// rounded up, at least 1.
type RetryLater struct {
	Err   *Error
	After time.Duration
}

// Error implements error.
func (r RetryLater) Error() string { return r.Err.Error() }

// Unwrap returns Err.
func (r RetryLater) Unwrap() error { return r.Err }

// WSJSON returns a WebSocket route response with status and v encoded as
// JSON. For $connect a non-2xx status refuses the handshake; for other
// routes API Gateway sends the body to the client only when the route has a
// route response.
func WSJSON(status int, v any) events.APIGatewayProxyResponse {
	status, body := marshal(status, v)
	return events.APIGatewayProxyResponse{StatusCode: status, Headers: headers(), Body: body}
}

// WSOK returns an empty 200 WebSocket route response: for $connect, the
// handshake is accepted.
func WSOK() events.APIGatewayProxyResponse {
	return events.APIGatewayProxyResponse{StatusCode: http.StatusOK}
}

// WSError returns the WebSocket route error response for err, with the same
// mapping as HTTPError. For $connect it refuses the handshake with that status.
func WSError(err error) events.APIGatewayProxyResponse {
	e := clientError(err)
	return WSJSON(e.Status, ErrorBody{Code: e.Code, Message: e.Message})
}
