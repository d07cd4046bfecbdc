package apigw

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"
)

// Body returns the raw bytes of a request body as API Gateway delivers it
// (base64-encoded when isBase64 is set). A body longer than max bytes gives
// a 413 *Error, a body that is not valid base64 a 400 *Error.
func Body(body string, isBase64 bool, max int) ([]byte, error) {
	if !isBase64 {
		if len(body) > max {
			return nil, tooLarge(max)
		}
		return []byte(body), nil
	}
	if base64.StdEncoding.DecodedLen(len(body)) > max+2 {
		return nil, tooLarge(max)
	}
	b, err := base64.StdEncoding.DecodeString(body)
	if err != nil {
		return nil, BadRequest("body is not valid base64")
	}
	if len(b) > max {
		return nil, tooLarge(max)
	}
	return b, nil
}

func tooLarge(max int) *Error {
	return NewError(http.StatusRequestEntityTooLarge, CodeTooLarge, fmt.Sprintf("body exceeds %d bytes", max))
}

// DecodeJSON decodes data, which must be one JSON value in valid UTF-8,
// into dst (a pointer to a struct). Unknown fields are ignored. Invalid
// UTF-8, malformed JSON, a value of the wrong type and trailing data each
// give a 400 *Error whose message names the problem (and the field).
func DecodeJSON(data []byte, dst any) error {
	if !utf8.Valid(data) {
		return BadRequest("body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(dst); err != nil {
		var typeErr *json.UnmarshalTypeError
		switch {
		case errors.As(err, &typeErr) && typeErr.Field != "":
			return BadRequest("field %q must be a %s", typeErr.Field, typeErr.Type.Kind())
		case errors.As(err, &typeErr):
			return BadRequest("body must be a JSON object")
		case errors.Is(err, io.EOF):
			return BadRequest("body is empty")
		default:
			return BadRequest("body is not valid JSON")
		}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return BadRequest("body has data after the JSON value")
	}
	return nil
}

// Header returns the value of the named header, matching the name
// case-insensitively (HTTP API lowercases names; WebSocket events keep the
// client's spelling).
func Header(h map[string]string, name string) string {
	if v, ok := h[name]; ok {
		return v
	}
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// Query returns a request's query parameters from the most faithful source
// the event has: raw (the payload 2.0 rawQueryString, parsed with form
// semantics), else multi (multiValueQueryStringParameters), else single
// (queryStringParameters). A raw query that does not parse gives a 400 *Error.
func Query(raw string, multi map[string][]string, single map[string]string) (url.Values, error) {
	switch {
	case raw != "":
		v, err := url.ParseQuery(raw)
		if err != nil {
			return nil, BadRequest("query string is malformed")
		}
		return v, nil
	case len(multi) > 0:
		return url.Values(multi), nil
	default:
		v := make(url.Values, len(single))
		for k, s := range single {
			v.Set(k, s)
		}
		return v, nil
	}
}

// One returns the single value of the query parameter key: "" when it is
// absent, a 400 *Error when it is given more than once or is not valid UTF-8.
func One(v url.Values, key string) (string, error) {
	vs := v[key]
	switch {
	case len(vs) == 0:
		return "", nil
	case len(vs) > 1:
		return "", BadRequest("query parameter %q given more than once", key)
	case !utf8.ValidString(vs[0]):
		return "", BadRequest("query parameter %q is not valid UTF-8", key)
	}
	return vs[0], nil
}
