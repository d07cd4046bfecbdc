package httpapi

import (
	"fmt"
	"net/url"
	"sort"
	"strings"
)

// Route is one route of the HTTP API: a method and a path template, and the
// function it invokes.
type Route struct {
	// Method is an HTTP method, or "ANY" (also "*") for every method.
	Method string
	// Path is a path template: literal segments, {name} for one segment,
	// and a last {name+} for one or more; or "$default" for every request
	// that no other route matches.
	Path string
	// Function is the function's name for the Invoker (its logical ID).
	Function string
}

// segment kinds, in order of precedence (a literal wins over a variable).
const (
	segLiteral = iota
	segParam
	segGreedy
)

type segment struct {
	kind int
	text string // the literal, or the variable's name
}

// route is a Route ready for matching.
type route struct {
	Route
	key      string // routeKey: "POST /api/x/{id}" or "$default"
	any      bool
	fallback bool // the $default route
	segs     []segment
}

func compileRoute(r Route) (*route, error) {
	method := strings.ToUpper(r.Method)
	c := &route{Route: r, any: method == "ANY" || method == "*"}
	c.Method = method
	if r.Function == "" {
		return nil, fmt.Errorf("route %s %s: no function", r.Method, r.Path)
	}
	if r.Path == "$default" {
		c.fallback = true
		c.any = true
		c.key = "$default"
		return c, nil
	}
	if method == "" {
		return nil, fmt.Errorf("route %s: no method", r.Path)
	}
	if !strings.HasPrefix(r.Path, "/") {
		return nil, fmt.Errorf("route %s %s: path must start with /", r.Method, r.Path)
	}
	parts := strings.Split(strings.TrimPrefix(r.Path, "/"), "/")
	for i, p := range parts {
		switch {
		case strings.HasPrefix(p, "{") && strings.HasSuffix(p, "+}"):
			if i != len(parts)-1 {
				return nil, fmt.Errorf("route %s %s: greedy variable %s is not last", r.Method, r.Path, p)
			}
			c.segs = append(c.segs, segment{segGreedy, p[1 : len(p)-2]})
		case strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}"):
			c.segs = append(c.segs, segment{segParam, p[1 : len(p)-1]})
		case strings.ContainsAny(p, "{}"):
			return nil, fmt.Errorf("route %s %s: malformed segment %q", r.Method, r.Path, p)
		default:
			c.segs = append(c.segs, segment{segLiteral, p})
		}
	}
	keyMethod := method
	if c.any {
		keyMethod = "ANY"
	}
	c.key = keyMethod + " " + r.Path
	return c, nil
}

// match reports whether the route serves method and the escaped path, and
// returns the decoded path parameters.
func (c *route) match(method, escapedPath string) (map[string]string, bool) {
	if !c.any && c.Method != method {
		return nil, false
	}
	if c.fallback {
		return nil, true
	}
	parts := strings.Split(strings.TrimPrefix(escapedPath, "/"), "/")
	params := map[string]string{}
	for i, s := range c.segs {
		if i >= len(parts) {
			return nil, false
		}
		switch s.kind {
		case segLiteral:
			if unescape(parts[i]) != s.text {
				return nil, false
			}
		case segParam:
			if parts[i] == "" {
				return nil, false
			}
			params[s.text] = unescape(parts[i])
		case segGreedy:
			rest := strings.Join(parts[i:], "/")
			if rest == "" {
				return nil, false
			}
			params[s.text] = unescape(rest)
			return params, true
		}
	}
	if len(parts) != len(c.segs) {
		return nil, false
	}
	if len(params) == 0 {
		params = nil
	}
	return params, true
}

func unescape(s string) string {
	if u, err := url.PathUnescape(s); err == nil {
		return u
	}
	return s
}

// moreSpecific orders matching routes as API Gateway chooses among them:
// segment by segment a literal beats a variable, which beats a greedy
// variable; a longer match beats a shorter one; a method beats ANY; and
// $default comes last.
func moreSpecific(a, b *route) bool {
	if a.fallback != b.fallback {
		return b.fallback
	}
	for i := 0; i < len(a.segs) && i < len(b.segs); i++ {
		if a.segs[i].kind != b.segs[i].kind {
			return a.segs[i].kind < b.segs[i].kind
		}
	}
	if len(a.segs) != len(b.segs) {
		return len(a.segs) > len(b.segs)
	}
	return !a.any && b.any
}

// table is the compiled routes, most specific first.
type table []*route

func newTable(routes []Route) (table, error) {
	t := make(table, 0, len(routes))
	seen := map[string]bool{}
	for _, r := range routes {
		c, err := compileRoute(r)
		if err != nil {
			return nil, err
		}
		if seen[c.key] {
			return nil, fmt.Errorf("route %s defined twice", c.key)
		}
		seen[c.key] = true
		t = append(t, c)
	}
	sort.SliceStable(t, func(i, j int) bool { return moreSpecific(t[i], t[j]) })
	return t, nil
}

// lookup returns the most specific route for the request, if any.
func (t table) lookup(method, escapedPath string) (*route, map[string]string) {
	for _, r := range t {
		if params, ok := r.match(method, escapedPath); ok {
			return r, params
		}
	}
	return nil, nil
}
