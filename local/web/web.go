// Package web is the browser chat page of the local stack: plain HTML, CSS
// and JavaScript with no build step, embedded in the binary.
//
// The page logs a customer in (POST {apiBase}/api/customer/{companyId}/login
// with a JSON body), opens a chatbot room (POST {apiBase}/api/customer/chatbot
// with the bearer token), connects to the WebSocket API
// ({webSocketUrl}?token=…&roomId=…), sends sendMessage frames and renders the
// answer as it streams: deltas in seq order, repaired from the answer of the
// complete frame, error frames shown with their code, frames without a type
// (API Gateway's own) ignored. It reconnects on its own with backoff and on
// request, keeps its session in sessionStorage and lets the user point it at
// another (deployed) stack from its settings panel, kept in localStorage.
//
// static/ragchat-client.js is the client module every page uses (HttpApi
// for the HTTP API, ChatSocket for a room's WebSocket with DESIGN.md's
// client rules); its tests are testdata/client.test.mjs, run under Node.
// static/page.js is the page chrome both pages share (status, banner,
// stored session and settings, config).
//
// Both pages are pages/<page>.html filled into pages/layout.html (head, top
// bar, banner, login form), rendered once when the handler is built.
//
// The chat page's "상담원 연결" button sends the handoff action and shows the
// room's status frames and the agents' message frames, named. The agent
// console (GET /agent: pages/agent.html, agent.js, agent.css) logs an agent in
// (POST {apiBase}/api/agent/{companyId}/login), lists the company's rooms by
// status (GET /api/agent/rooms, refreshed every 5 s and on status frames),
// opens a room's history and live socket, claims, releases and closes it,
// and sends messages while holding it.
package web

import (
	"bytes"
	"embed"
	"encoding/json"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
)

//go:embed static
var staticFS embed.FS

//go:embed pages
var pagesFS embed.FS

// renderPage fills pages/<name> into pages/layout.html.
func renderPage(name string) []byte {
	t := template.Must(template.ParseFS(pagesFS, "pages/layout.html", "pages/"+name))
	var b bytes.Buffer
	if err := t.ExecuteTemplate(&b, "layout", nil); err != nil {
		panic("web: render " + name + ": " + err.Error()) // the embedded pages are fixed: TestHandler renders both
	}
	return b.Bytes()
}

// Config tells the page where the APIs are. It is served as /config.json;
// the user's own settings in the page win over it.
type Config struct {
	// APIBase is the base URL of the HTTP API, e.g.
	// "https://abc.execute-api.eu-west-1.amazonaws.com". Empty means the
	// page's own origin (the local stack serves both on one port).
	APIBase string `json:"apiBase"`
	// WebSocketURL is the URL of the WebSocket API stage, e.g.
	// "ws://127.0.0.1:3001/prod". Empty means ws(s)://<page host>:3001/prod.
	WebSocketURL string `json:"webSocketUrl"`
	// Suggestions are questions offered as one-click chips in an empty
	// conversation; none when empty.
	Suggestions []string `json:"suggestions"`
}

// contentSecurityPolicy allows the page's own assets only, and connections
// to any HTTP API and WebSocket API the user configures.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self' http: https: ws: wss:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Handler serves the chat page: GET / (pages/index.html), its assets (/app.js,
// /ragchat-client.js, /page.js, /style.css, /favicon.svg), the agent console at
// GET /agent (pages/agent.html, /agent.js, /agent.css; /index.html and /agent.html redirect to
// the pages) and GET /config.json with cfg. Other paths get
// API Gateway's JSON 404, other methods 405. Every response carries a strict Content Security
// Policy and is not cached, so an edited page shows on reload.
func Handler(cfg Config) http.Handler {
	if cfg.Suggestions == nil {
		cfg.Suggestions = []string{}
	}
	configJSON, err := json.Marshal(cfg)
	if err != nil {
		panic("web: marshal config: " + err.Error()) // strings only: cannot fail
	}
	assets, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic("web: embedded assets: " + err.Error()) // the embed pattern guarantees the directory
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /config.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(configJSON)
	})
	files := http.FileServerFS(assets)
	page := func(html []byte) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Write(html)
		}
	}
	mux.HandleFunc("GET /{$}", page(renderPage("index.html")))
	mux.HandleFunc("GET /agent", page(renderPage("agent.html")))
	// The pages' file names, which bookmarks from when they were static
	// files may hold, lead to the pages.
	mux.Handle("GET /index.html", http.RedirectHandler("/", http.StatusMovedPermanently))
	mux.Handle("GET /agent.html", http.RedirectHandler("/agent", http.StatusMovedPermanently))
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		if _, err := fs.Stat(assets, strings.TrimPrefix(r.URL.Path, "/")); err != nil {
			// The page shares its origin with the HTTP API, whose
			// unknown routes answer as API Gateway does.
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"message":"Not Found"}`))
			return
		}
		files.ServeHTTP(w, r)
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		mux.ServeHTTP(w, r)
	})
}
