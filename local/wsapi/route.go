package wsapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// selector evaluates a route selection expression of the form
// $request.body.<path> against a message body.
type selector struct {
	path []string
}

// parseSelection accepts "$request.body.a.b" and "${request.body.a.b}".
func parseSelection(expr string) (selector, error) {
	e := strings.TrimSpace(expr)
	if strings.HasPrefix(e, "${") && strings.HasSuffix(e, "}") {
		e = "$" + e[2:len(e)-1]
	}
	const prefix = "$request.body."
	if !strings.HasPrefix(e, prefix) {
		return selector{}, fmt.Errorf("route selection expression %q: want %s<path>", expr, prefix)
	}
	path := strings.Split(e[len(prefix):], ".")
	for _, p := range path {
		if p == "" {
			return selector{}, fmt.Errorf("route selection expression %q: empty path element", expr)
		}
	}
	return selector{path: path}, nil
}

// routeKey returns the selected value of a JSON body: a string as is, a
// number or boolean as its JSON text. ok is false when the body is not one
// JSON value or the path leads to nothing, null, an object or an array.
func (s selector) routeKey(body []byte) (key string, ok bool) {
	if !json.Valid(body) {
		return "", false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return "", false
	}
	for _, p := range s.path {
		m, isObject := v.(map[string]any)
		if !isObject {
			return "", false
		}
		if v, ok = m[p]; !ok {
			return "", false
		}
	}
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	case bool:
		if x {
			return "true", true
		}
		return "false", true
	}
	return "", false
}

// selected returns the route key a message selects: "" when it selects
// none, or a reserved $connect or $disconnect (a message never matches
// those).
func (s *Server) selected(body []byte) string {
	key, found := s.sel.routeKey(body)
	if !found || key == RouteConnect || key == RouteDisconnect {
		return ""
	}
	return key
}

// mock returns what a message whose selected route key is key (see
// selected) gets back from a MOCK integration; ok is false when the route
// is not one.
func (s *Server) mock(key string) (reply string, ok bool) {
	if key == "" {
		return "", false
	}
	reply, ok = s.cfg.Mocks[key]
	return reply, ok
}

// route picks the function for a message whose selected route key is key
// (see selected): that route's, else $default's. ok is false when neither
// exists.
func (s *Server) route(key string) (routeKey, function string, ok bool) {
	if key != "" {
		if fn, exists := s.cfg.Routes[key]; exists {
			return key, fn, true
		}
	}
	fn, exists := s.cfg.Routes[RouteDefault]
	return RouteDefault, fn, exists
}
