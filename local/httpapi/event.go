package httpapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
)

// buildEvent returns the payload format 2.0 event for a request.
func buildEvent(r *http.Request, rt *route, params map[string]string, body []byte,
	requestID string, now time.Time, opts Options) ([]byte, error) {
	headers, cookies := eventHeaders(r)
	host := r.Host
	ip := sourceIP(r)
	forwarded(headers, host, ip, r.ContentLength)
	domain := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		domain = h
	}
	prefix, _, _ := strings.Cut(domain, ".")

	ev := events.APIGatewayV2HTTPRequest{
		Version:               "2.0",
		RouteKey:              rt.key,
		RawPath:               r.URL.EscapedPath(),
		RawQueryString:        r.URL.RawQuery,
		Cookies:               cookies,
		Headers:               headers,
		QueryStringParameters: queryParameters(r.URL.RawQuery),
		PathParameters:        params,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey:     rt.key,
			AccountID:    opts.AccountID,
			Stage:        "$default",
			RequestID:    requestID,
			APIID:        opts.APIID,
			DomainName:   domain,
			DomainPrefix: prefix,
			Time:         now.UTC().Format("02/Jan/2006:15:04:05 -0700"),
			TimeEpoch:    now.UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method:    r.Method,
				Path:      r.URL.EscapedPath(),
				Protocol:  r.Proto,
				SourceIP:  ip,
				UserAgent: r.UserAgent(),
			},
		},
	}
	if len(body) > 0 {
		if isText(r.Header.Get("Content-Type"), body) {
			ev.Body = string(body)
		} else {
			ev.Body = base64.StdEncoding.EncodeToString(body)
			ev.IsBase64Encoded = true
		}
	}
	return json.Marshal(ev)
}

// eventHeaders returns the request's headers as payload 2.0 carries them:
// lower-case names, repeated values joined with commas, and the Cookie
// header split into cookies.
func eventHeaders(r *http.Request) (map[string]string, []string) {
	headers := map[string]string{}
	var cookies []string
	names := make([]string, 0, len(r.Header))
	for name := range r.Header {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		values := r.Header[name]
		lower := strings.ToLower(name)
		if lower == "cookie" {
			for _, v := range values {
				for _, c := range strings.Split(v, ";") {
					if c = strings.TrimSpace(c); c != "" {
						cookies = append(cookies, c)
					}
				}
			}
			continue
		}
		headers[lower] = strings.Join(values, ",")
	}
	return headers, cookies
}

// forwarded sets the headers API Gateway adds: host, x-forwarded-for (the
// source IP appended), -proto, -port and content-length.
func forwarded(headers map[string]string, host, ip string, contentLength int64) {
	headers["host"] = host
	if prior := headers["x-forwarded-for"]; prior != "" {
		headers["x-forwarded-for"] = prior + ", " + ip
	} else {
		headers["x-forwarded-for"] = ip
	}
	headers["x-forwarded-proto"] = "http"
	if _, port, err := net.SplitHostPort(host); err == nil {
		headers["x-forwarded-port"] = port
	} else {
		headers["x-forwarded-port"] = "80"
	}
	if contentLength > 0 {
		headers["content-length"] = strconv.FormatInt(contentLength, 10)
	}
}

// queryParameters returns the query's parameters with repeated values
// joined by commas, nil for none.
func queryParameters(rawQuery string) map[string]string {
	query := parseQuery(rawQuery)
	if len(query) == 0 {
		return nil
	}
	qsp := make(map[string]string, len(query))
	for k, v := range query {
		qsp[k] = strings.Join(v, ",")
	}
	return qsp
}

// isText reports whether a body goes to the function as text rather than
// base64: a textual content type, or none and valid UTF-8.
func isText(contentType string, body []byte) bool {
	if !utf8.Valid(body) {
		return false
	}
	if contentType == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	switch {
	case strings.HasPrefix(mt, "text/"),
		mt == "application/json", strings.HasSuffix(mt, "+json"),
		mt == "application/xml", strings.HasSuffix(mt, "+xml"),
		mt == "application/javascript", mt == "application/x-www-form-urlencoded":
		return true
	}
	return false
}

// response is a function's answer mapped to HTTP.
type response struct {
	status  int
	headers http.Header
	body    []byte
}

// parseResponse maps a function's output to an HTTP response. An object
// with a statusCode is the structured format (statusCode, headers,
// multiValueHeaders, cookies, body, isBase64Encoded); any other valid JSON
// is the simple format: status 200, content type JSON, the output as the
// body.
func parseResponse(out []byte) (response, error) {
	if !json.Valid(out) {
		return response{}, fmt.Errorf("not valid JSON (%d bytes)", len(out))
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(out, &probe); err != nil || probe["statusCode"] == nil {
		h := http.Header{}
		h.Set("Content-Type", "application/json")
		return response{status: http.StatusOK, headers: h, body: out}, nil
	}
	var v struct {
		StatusCode        int                 `json:"statusCode"`
		Headers           map[string]string   `json:"headers"`
		MultiValueHeaders map[string][]string `json:"multiValueHeaders"`
		Cookies           []string            `json:"cookies"`
		Body              string              `json:"body"`
		IsBase64Encoded   bool                `json:"isBase64Encoded"`
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	if err := dec.Decode(&v); err != nil {
		return response{}, fmt.Errorf("structured response: %w", err)
	}
	if v.StatusCode < 100 || v.StatusCode > 599 {
		return response{}, fmt.Errorf("statusCode %d out of range", v.StatusCode)
	}
	h := http.Header{}
	for k, vals := range v.MultiValueHeaders {
		for _, val := range vals {
			h.Add(k, val)
		}
	}
	for k, val := range v.Headers {
		h.Set(k, val)
	}
	for _, c := range v.Cookies {
		h.Add("Set-Cookie", c)
	}
	body := []byte(v.Body)
	if v.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(v.Body)
		if err != nil {
			return response{}, fmt.Errorf("body is not base64: %w", err)
		}
		body = b
	}
	return response{status: v.StatusCode, headers: h, body: body}, nil
}

// setHeaders copies the response's headers to h, except those that
// describe the connection or the framing, which the server sets itself.
func (r response) setHeaders(h http.Header) {
	for k, vals := range r.headers {
		switch http.CanonicalHeaderKey(k) {
		case "Content-Length", "Transfer-Encoding", "Connection":
			continue
		}
		h[http.CanonicalHeaderKey(k)] = append([]string(nil), vals...)
	}
}

// parseQuery decodes a raw query string into parameters as API Gateway
// does: it never refuses a request for its query, so a key or value with a
// malformed escape ("%zz") is passed on undecoded, and the function (which
// also gets rawQueryString) decides what to make of it.
func parseQuery(raw string) map[string][]string {
	q := map[string][]string{}
	for pair := range strings.SplitSeq(raw, "&") {
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		q[unescapeOrRaw(k)] = append(q[unescapeOrRaw(k)], unescapeOrRaw(v))
	}
	return q
}

func unescapeOrRaw(s string) string {
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return s
}
