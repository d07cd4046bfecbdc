// Package httpapi emulates an API Gateway HTTP API with Lambda proxy
// integrations (payload format 2.0): it matches a request to a route of
// the template, builds the event API Gateway would send, invokes the
// route's function and maps the function's response back to HTTP, with
// API Gateway's own answers for no route, function errors, timeouts and
// oversized requests.
package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"
)

// Limits of API Gateway HTTP APIs.
const (
	MaxRequestBodyBytes       = 10 << 20
	DefaultIntegrationTimeout = 30 * time.Second
	DefaultAccountID          = "123456789012"
	DefaultAPIID              = "localhttpapi"
)

// Invoker runs a function synchronously: local/lambda's Pool.
type Invoker interface {
	Invoke(ctx context.Context, function string, payload []byte) ([]byte, error)
}

// CORS is an HTTP API's CorsConfiguration. API Gateway answers preflight
// requests itself and adds the CORS headers to the function's responses.
type CORS struct {
	AllowOrigins     []string // "*" allows every origin
	AllowMethods     []string
	AllowHeaders     []string // "*" allows every requested header
	ExposeHeaders    []string
	MaxAge           int // seconds; 0 sends no Access-Control-Max-Age
	AllowCredentials bool
}

// Options configure an API. Zero values select the defaults.
type Options struct {
	// Fallback serves GET and HEAD requests that match no route (the web
	// page); without it they get API Gateway's 404.
	Fallback           http.Handler
	CORS               *CORS
	IntegrationTimeout time.Duration // DefaultIntegrationTimeout when zero
	AccountID          string
	APIID              string
	// Logger gets one line per API request and the reason of every 5xx.
	// Nil discards them.
	Logger *slog.Logger
}

// API is an http.Handler serving the HTTP API.
type API struct {
	routes table
	inv    Invoker
	opts   Options
	log    *slog.Logger
}

// New returns the API for the routes, invoking their functions through inv.
func New(routes []Route, inv Invoker, opts Options) (*API, error) {
	t, err := newTable(routes)
	if err != nil {
		return nil, fmt.Errorf("http api: %w", err)
	}
	if opts.IntegrationTimeout <= 0 {
		opts.IntegrationTimeout = DefaultIntegrationTimeout
	}
	if opts.AccountID == "" {
		opts.AccountID = DefaultAccountID
	}
	if opts.APIID == "" {
		opts.APIID = DefaultAPIID
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &API{routes: t, inv: inv, opts: opts, log: log}, nil
}

// ServeHTTP implements http.Handler.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if a.opts.CORS != nil && a.preflight(w, r) {
		return
	}
	rt, params := a.routes.lookup(r.Method, r.URL.EscapedPath())
	if rt == nil && a.opts.Fallback != nil && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		a.opts.Fallback.ServeHTTP(w, r)
		return
	}
	start := time.Now()
	requestID := newRequestID()
	w.Header().Set("Apigw-Requestid", requestID)
	if rt == nil {
		a.writeMessage(w, r, http.StatusNotFound, "Not Found")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxRequestBodyBytes+1))
	if err != nil {
		a.writeMessage(w, r, http.StatusBadRequest, "Bad Request")
		return
	}
	if len(body) > MaxRequestBodyBytes {
		a.writeMessage(w, r, http.StatusRequestEntityTooLarge, "Request Entity Too Large")
		return
	}
	event, err := buildEvent(r, rt, params, body, requestID, start, a.opts)
	if err != nil {
		a.fail(w, r, rt, http.StatusInternalServerError, "Internal Server Error", fmt.Errorf("build event: %w", err))
		return
	}
	// As on API Gateway, a client that goes away does not stop the function.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), a.opts.IntegrationTimeout)
	defer cancel()
	out, err := a.inv.Invoke(ctx, rt.Function, event)
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		a.fail(w, r, rt, http.StatusServiceUnavailable, "Service Unavailable", err)
		return
	case err != nil:
		a.fail(w, r, rt, http.StatusInternalServerError, "Internal Server Error", err)
		return
	}
	resp, err := parseResponse(out)
	if err != nil {
		a.fail(w, r, rt, http.StatusInternalServerError, "Internal Server Error", fmt.Errorf("function response: %w", err))
		return
	}
	resp.setHeaders(w.Header())
	a.addCORS(w, r) // API Gateway's CORS headers replace the function's
	w.WriteHeader(resp.status)
	_, _ = w.Write(resp.body)
	a.log.Info("http api", "method", r.Method, "path", r.URL.Path, "route", rt.key,
		"function", rt.Function, "status", resp.status, "ms", time.Since(start).Milliseconds())
}

// fail answers with API Gateway's error body and logs why.
func (a *API) fail(w http.ResponseWriter, r *http.Request, rt *route, status int, msg string, err error) {
	a.log.Error("http api", "method", r.Method, "path", r.URL.Path, "route", rt.key,
		"function", rt.Function, "status", status, "err", err)
	a.writeMessage(w, r, status, msg)
}

// writeMessage writes API Gateway's own JSON answer {"message": ...}.
func (a *API) writeMessage(w http.ResponseWriter, r *http.Request, status int, msg string) {
	a.addCORS(w, r)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, "{\"message\":%q}", msg)
}

// preflight answers a CORS preflight request; it reports whether r was one.
func (a *API) preflight(w http.ResponseWriter, r *http.Request) bool {
	if r.Method != http.MethodOptions || r.Header.Get("Origin") == "" || r.Header.Get("Access-Control-Request-Method") == "" {
		return false
	}
	c := a.opts.CORS
	if origin := r.Header.Get("Origin"); allowed(c.AllowOrigins, origin) {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", allowOrigin(c, origin))
		if len(c.AllowMethods) > 0 {
			h.Set("Access-Control-Allow-Methods", strings.Join(c.AllowMethods, ","))
		}
		if contains(c.AllowHeaders, "*") {
			if req := r.Header.Get("Access-Control-Request-Headers"); req != "" {
				h.Set("Access-Control-Allow-Headers", req)
			}
		} else if len(c.AllowHeaders) > 0 {
			h.Set("Access-Control-Allow-Headers", strings.ToLower(strings.Join(c.AllowHeaders, ",")))
		}
		if c.MaxAge > 0 {
			h.Set("Access-Control-Max-Age", fmt.Sprint(c.MaxAge))
		}
		if c.AllowCredentials {
			h.Set("Access-Control-Allow-Credentials", "true")
		}
	}
	w.WriteHeader(http.StatusNoContent)
	return true
}

// addCORS adds the CORS headers of an actual request from an allowed origin.
func (a *API) addCORS(w http.ResponseWriter, r *http.Request) {
	c := a.opts.CORS
	origin := r.Header.Get("Origin")
	if c == nil || origin == "" || !allowed(c.AllowOrigins, origin) {
		return
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", allowOrigin(c, origin))
	if len(c.ExposeHeaders) > 0 {
		h.Set("Access-Control-Expose-Headers", strings.Join(c.ExposeHeaders, ","))
	}
	if c.AllowCredentials {
		h.Set("Access-Control-Allow-Credentials", "true")
	}
	h.Add("Vary", "Origin")
}

func allowOrigin(c *CORS, origin string) string {
	if contains(c.AllowOrigins, "*") && !c.AllowCredentials {
		return "*"
	}
	return origin
}

func allowed(list []string, v string) bool {
	return contains(list, "*") || contains(list, v)
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if strings.EqualFold(x, v) {
			return true
		}
	}
	return false
}

// newRequestID returns an ID of the form API Gateway gives HTTP API
// requests ("JKJaXmPLvHcESHA=").
func newRequestID() string {
	var b [10]byte
	_, _ = rand.Read(b[:])
	return base64.StdEncoding.EncodeToString(b[:])
}

// sourceIP is the client's address without its port.
func sourceIP(r *http.Request) string {
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}
