package web

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ragchat/ragchat/internal/testkit"
)

func TestHandler_ServesThePageItsAssetsAndConfig(t *testing.T) {
	cfg := Config{APIBase: "https://api.example.com", WebSocketURL: "wss://ws.example.com/prod", Suggestions: []string{"관리비는요?"}}
	ts := httptest.NewServer(Handler(cfg))
	defer ts.Close()
	tests := []struct {
		path, contentType, contains string
	}{
		{"/", "text/html; charset=utf-8", `<html lang="ko">`},
		{"/app.js", "text/javascript; charset=utf-8", "ChatSocket"},
		{"/ragchat-client.js", "text/javascript; charset=utf-8", "export class ChatSocket"},
		{"/page.js", "text/javascript; charset=utf-8", "export function showBanner"},
		{"/style.css", "text/css; charset=utf-8", "word-break: keep-all"},
		{"/favicon.svg", "image/svg+xml", "<svg"},
		{"/agent", "text/html; charset=utf-8", "상담원 콘솔"},
		{"/agent.js", "text/javascript; charset=utf-8", "from './ragchat-client.js'"},
		{"/agent.css", "text/css; charset=utf-8", ".room-item"},
		{"/config.json", "application/json", `"webSocketUrl":"wss://ws.example.com/prod"`},
		// The pages' old file names redirect to them.
		{"/index.html", "text/html; charset=utf-8", `<html lang="ko">`},
		{"/agent.html", "text/html; charset=utf-8", "상담원 콘솔"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			resp, b := testkit.Get(t, ts.URL+tt.path)
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != tt.contentType {
				t.Fatalf("%d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			if !strings.Contains(string(b), tt.contains) {
				t.Fatalf("body lacks %q", tt.contains)
			}
			for _, h := range []string{"Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy", "Cache-Control"} {
				if resp.Header.Get(h) == "" {
					t.Errorf("no %s header", h)
				}
			}
		})
	}
	_, b := testkit.Get(t, ts.URL+"/config.json")
	var got Config
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got.APIBase != cfg.APIBase || got.WebSocketURL != cfg.WebSocketURL || len(got.Suggestions) != 1 {
		t.Fatalf("config.json = %+v, want %+v", got, cfg)
	}
}

func TestHandler_EmptyConfigLetsThePageDeriveEndpoints(t *testing.T) {
	rec := httptest.NewRecorder()
	Handler(Config{}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/config.json", nil))
	if got := rec.Body.String(); got != `{"apiBase":"","webSocketUrl":"","suggestions":[]}` {
		t.Fatalf("config.json = %s", got)
	}
}

func TestHandler_RejectsOtherPathsAndMethods(t *testing.T) {
	tests := []struct {
		method, path string
		status       int
	}{
		{http.MethodGet, "/nope.js", http.StatusNotFound},
		{http.MethodGet, "/api/customer/apt001/login", http.StatusNotFound},
		{http.MethodPost, "/", http.StatusMethodNotAllowed},
		{http.MethodPost, "/config.json", http.StatusMethodNotAllowed},
	}
	h := Handler(Config{})
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))
		if rec.Code != tt.status {
			t.Errorf("%s %s = %d, want %d", tt.method, tt.path, rec.Code, tt.status)
		}
		if tt.status == http.StatusNotFound && rec.Body.String() != `{"message":"Not Found"}` {
			t.Errorf("%s %s body %q, want API Gateway's Not Found", tt.method, tt.path, rec.Body)
		}
	}
}
