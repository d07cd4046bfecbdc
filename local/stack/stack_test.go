package stack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ragchat/ragchat/internal/samtemplate"
	"github.com/ragchat/ragchat/internal/testkit"
	"github.com/ragchat/ragchat/internal/wsclient"
	"github.com/ragchat/ragchat/local/ragdev"
	"github.com/ragchat/ragchat/shared/store"
)

// guard bounds the start of the shared stack and every wait of an
// end-to-end test; it only catches hangs.
const guard = 2 * time.Minute

// shared is the one stack the end-to-end tests of this package share:
// starting one builds every function, so it is started once, on first use,
// and closed by TestMain.
var shared struct {
	once     sync.Once
	st       *Stack
	out      *testkit.SyncBuffer // the functions' output
	buildDir string
	err      error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.st != nil {
		shared.st.Close()
	}
	if shared.buildDir != "" {
		if err := os.RemoveAll(shared.buildDir); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}
	os.Exit(code)
}

// sharedStack returns the package's shared stack, starting it on the first
// call; it skips the test in -short mode. When the test fails, the output
// the functions wrote during it is logged.
func sharedStack(t *testing.T) *Stack {
	t.Helper()
	if testing.Short() {
		t.Skip("builds every function")
	}
	shared.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), guard)
		defer cancel()
		shared.out = &testkit.SyncBuffer{}
		if shared.buildDir, shared.err = os.MkdirTemp("", "ragchat-stack-test-"); shared.err != nil {
			return
		}
		shared.st, shared.err = Start(ctx, Options{
			BuildDir:       shared.buildDir,
			DynamoPort:     0,
			RAGDev:         ragdev.Options{PieceDelay: 5 * time.Millisecond}, // an answer streams in several frames
			FunctionOutput: shared.out,
		})
	})
	if shared.err != nil {
		t.Fatalf("start the shared stack: %v", shared.err)
	}
	from := len(shared.out.String())
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("function output during the test:\n%s", shared.out.String()[from:])
		}
	})
	return shared.st
}

func postJSON(t *testing.T, url, token, body string, out any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	doJSON(t, req, out)
}

func getJSON(t *testing.T, url string, out any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	doJSON(t, req, out)
}

// doJSON sends req and decodes its 200 response's JSON body into out.
func doJSON(t *testing.T, req *http.Request, out any) {
	t.Helper()
	resp, raw := testkit.Do(t, nil, req)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %d %s", req.Method, req.URL, resp.StatusCode, raw)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		t.Fatalf("%s %s: %v in %s", req.Method, req.URL, err, raw)
	}
}

func TestStack_LoginRoomWebSocketQuestionStreamsTheAnswer(t *testing.T) {
	st := sharedStack(t)
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()

	var page struct{ WebSocketURL string }
	getJSON(t, st.URLs.HTTP+"/config.json", &page)
	if page.WebSocketURL != st.URLs.WebSocket {
		t.Fatalf("chat page config points at %q, want %q", page.WebSocketURL, st.URLs.WebSocket)
	}

	// Login answers with the user's latest room, null before the first:
	// other tests on the shared stack may have opened one already.
	var wantRoomID *string
	switch latest, err := store.New(st.DB, st.Tables).LatestRoom(ctx, "apt001", "hong2"); {
	case err == nil:
		wantRoomID = &latest.RoomID
	case !errors.Is(err, store.ErrNotFound):
		t.Fatal(err)
	}
	var login struct {
		UserID, UserName, Token, CompanyID string
		RoomID                             *string
	}
	postJSON(t, st.URLs.HTTP+"/api/customer/apt001/login", "", `{"id":"hong2","password":"1234"}`, &login)
	if login.UserName != "고객-275b" || login.CompanyID != "apt001" || login.Token == "" ||
		(login.RoomID == nil) != (wantRoomID == nil) || (login.RoomID != nil && *login.RoomID != *wantRoomID) {
		t.Fatalf("login = %+v, want room %v", login, wantRoomID)
	}
	var room struct{ RoomID, Status string }
	postJSON(t, st.URLs.HTTP+"/api/customer/chatbot", login.Token, ``, &room)
	if !strings.HasPrefix(room.RoomID, "room-") || room.Status != "BOT" {
		t.Fatalf("room = %+v", room)
	}

	c, err := wsclient.Dial(ctx, st.URLs.WebSocket, login.Token, room.RoomID)
	if err != nil {
		t.Fatalf("websocket connect: %v", err)
	}
	defer c.Drop()
	a, err := c.Ask(ctx, "관리비는 언제까지 내야 하나요?")
	if err != nil {
		t.Fatal(err)
	}
	if a.SessionID != room.RoomID || a.Terminal.Type != wsclient.TypeComplete || a.Text == "" {
		t.Fatalf("answer %q of session %s ended with %s, want a complete answer in %s", a.Text, a.SessionID, a.Terminal.Raw, room.RoomID)
	}
	turns := st.RAG.History(room.RoomID)
	if len(turns) != 1 || turns[0].Answer != a.Text {
		t.Fatalf("deltas %q, dev RAG answered %+v", a.Text, turns)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestFunctionEnv_TemplateThenLocalOverridesThenEnvVarsFile(t *testing.T) {
	tpl, err := samtemplate.LoadRoot()
	if err != nil {
		t.Fatal(err)
	}
	fns, err := tpl.Functions()
	if err != nil {
		t.Fatal(err)
	}
	r := resolver{tpl: tpl, region: "ap-northeast-2", accountID: "123456789012", tables: map[string]string{
		"UsersTable": "p-UsersTable", "RoomsTable": "p-RoomsTable", "ConnectionsTable": "p-ConnectionsTable",
		"MessagesTable": "p-MessagesTable", "LoginAttemptsTable": "p-LoginAttemptsTable",
	}}
	overrides := map[string]string{"RAG_URL": "http://127.0.0.1:8040", "TOKEN_SECRET": "local-secret"}
	file := EnvVars{
		"Parameters":      {"LOG_LEVEL": "DEBUG", "RAG_SYS_INFO": "ALL"},
		"MessageFunction": {"RAG_SYS_INFO": "MESSAGE_ONLY", "RAG_URL": "http://rag.example"},
	}
	want := map[string]map[string]string{
		"LoginFunction": {
			"USERS_TABLE":      "p-UsersTable",
			"ROOMS_TABLE":      "p-RoomsTable",
			"TOKEN_SECRET_ARN": "arn:aws:secretsmanager:ap-northeast-2:123456789012:secret:ragchat-local-TokenSecret",
			"TOKEN_TTL":        "12h",
			"RAG_URL":          "http://127.0.0.1:8040",
			"TOKEN_SECRET":     "local-secret",
			"LOG_LEVEL":        "DEBUG",
			"RAG_SYS_INFO":     "ALL",
		},
		"MessageFunction": {
			"CONNECTIONS_TABLE": "p-ConnectionsTable",
			"RAG_URL":           "http://rag.example",
			"RAG_SYS_INFO":      "MESSAGE_ONLY",
			"LOG_LEVEL":         "DEBUG",
		},
	}
	for _, fn := range fns {
		w, ok := want[fn.LogicalID]
		if !ok {
			continue
		}
		env, err := r.functionEnv(fn, overrides, file)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range w {
			if env[k] != v {
				t.Errorf("%s: %s = %q, want %q", fn.LogicalID, k, env[k], v)
			}
		}
	}
}

func TestLoadEnvVars_ReadsSamLocalFormat(t *testing.T) {
	tests := []struct {
		name    string
		content string
		want    EnvVars
		wantErr bool
	}{
		{"strings, numbers and booleans",
			`{"Parameters":{"LOG_LEVEL":"DEBUG","N":5,"B":true},"LoginFunction":{"TOKEN_TTL":"1h"}}`,
			EnvVars{"Parameters": {"LOG_LEVEL": "DEBUG", "N": "5", "B": "true"}, "LoginFunction": {"TOKEN_TTL": "1h"}}, false},
		{"nested value", `{"Parameters":{"X":{"a":1}}}`, nil, true},
		{"not sections", `{"LOG_LEVEL":"DEBUG"}`, nil, true},
		{"not JSON", `LOG_LEVEL=DEBUG`, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "env.json")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := LoadEnvVars(path)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if !tt.wantErr && !equalEnvVars(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func equalEnvVars(a, b EnvVars) bool {
	if len(a) != len(b) {
		return false
	}
	for s, vars := range a {
		if len(vars) != len(b[s]) {
			return false
		}
		for k, v := range vars {
			if b[s][k] != v {
				return false
			}
		}
	}
	return true
}

func TestCorsOf_ReadsTheHttpApiCorsConfigurationBranchOfTheDefaults(t *testing.T) {
	tpl, err := samtemplate.Parse([]byte(`
Parameters:
  Origins: {Type: String, Default: "*"}
Conditions:
  AnyOrigin: !Equals [!Ref Origins, "*"]
Resources:
  HttpApi:
    Type: AWS::Serverless::HttpApi
    Properties:
      CorsConfiguration: !If
        - AnyOrigin
        - AllowOrigins: ["*"]
          AllowMethods: [POST, OPTIONS]
          AllowHeaders: [Authorization, Content-Type]
          MaxAge: 600
        - AllowOrigins: !Split [",", !Ref Origins]
`))
	if err != nil {
		t.Fatal(err)
	}
	c, err := corsOf(tpl)
	if err != nil || c == nil || strings.Join(c.AllowOrigins, ",") != "*" || strings.Join(c.AllowMethods, ",") != "POST,OPTIONS" ||
		strings.Join(c.AllowHeaders, ",") != "Authorization,Content-Type" || c.MaxAge != 600 {
		t.Fatalf("cors = %+v, %v", c, err)
	}
}
