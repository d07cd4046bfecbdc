package e2e

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/coder/websocket"
)

const loginPath = "/api/customer/apt001/login"

// jsonHeader is the header of a JSON request.
var jsonHeader = map[string]string{"Content-Type": "application/json"}

func TestInput_BadHTTPRequestsGetTheDocumentedErrorAndWriteNothing(t *testing.T) {
	cu := h.newCustomer(t, "apt001")
	// A distinctive wrong password: the log scan finds it if a layer logs
	// the query string that carries it.
	wrong := "wrong-" + randHex(8)
	h.secrets.add("wrong password", wrong)
	tests := []struct {
		name   string
		method string
		path   string
		header map[string]string
		body   string
		status int
		// code is the error body's code; "" means API Gateway's own
		// {"message": ...} answer (no route, body over its limit).
		code string
	}{
		{"login: malformed JSON", "POST", loginPath, jsonHeader, `{"id":`, 400, "BAD_REQUEST"},
		{"login: id of the wrong type", "POST", loginPath, jsonHeader, `{"id":123,"password":"x"}`, 400, "BAD_REQUEST"},
		{"login: password of the wrong type", "POST", loginPath, jsonHeader, `{"id":"hong2","password":true}`, 400, "BAD_REQUEST"},
		{"login: missing password", "POST", loginPath, jsonHeader, `{"id":"hong2"}`, 400, "BAD_REQUEST"},
		{"login: missing id", "POST", loginPath, jsonHeader, `{"password":"x"}`, 400, "BAD_REQUEST"},
		{"login: null credentials", "POST", loginPath, jsonHeader, `{"id":null,"password":null}`, 400, "BAD_REQUEST"},
		{"login: unknown fields only", "POST", loginPath, jsonHeader, `{"user":"hong2","pass":"x"}`, 400, "BAD_REQUEST"},
		{"login: no body and no query", "POST", loginPath, nil, ``, 400, "BAD_REQUEST"},
		{"login: white space body", "POST", loginPath, jsonHeader, " \n\t ", 400, "BAD_REQUEST"},
		{"login: JSON array", "POST", loginPath, jsonHeader, `[{"id":"hong2","password":"x"}]`, 400, "BAD_REQUEST"},
		{"login: JSON string", "POST", loginPath, jsonHeader, `"hong2"`, 400, "BAD_REQUEST"},
		{"login: data after the JSON", "POST", loginPath, jsonHeader, `{"id":"hong2","password":"x"}{}`, 400, "BAD_REQUEST"},
		{"login: invalid UTF-8", "POST", loginPath, jsonHeader, "{\"id\":\"hong2\",\"password\":\"\xff\xfe\"}", 400, "BAD_REQUEST"},
		{"login: form body", "POST", loginPath, map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, `id=hong2&password=x`, 400, "BAD_REQUEST"},
		{"login: body over 4 KiB", "POST", loginPath, jsonHeader, `{"id":"hong2","password":"` + strings.Repeat("x", 5000) + `"}`, 413, "PAYLOAD_TOO_LARGE"},
		{"login: password over 72 bytes", "POST", loginPath, jsonHeader, `{"id":"hong2","password":"` + strings.Repeat("p", 73) + `"}`, 400, "BAD_REQUEST"},
		{"login: id with an SQL injection", "POST", loginPath, jsonHeader, `{"id":"hong2' OR '1'='1","password":"x"}`, 400, "BAD_REQUEST"},
		{"login: id with the key separator #", "POST", loginPath, jsonHeader, `{"id":"hong2#x","password":"x"}`, 400, "BAD_REQUEST"},
		{"login: id with a NoSQL operator", "POST", loginPath, jsonHeader, `{"id":{"$ne":null},"password":"x"}`, 400, "BAD_REQUEST"},
		{"login: id with a control character", "POST", loginPath, jsonHeader, `{"id":"hong\u00002","password":"x"}`, 400, "BAD_REQUEST"},
		{"login: id in Hangul", "POST", loginPath, jsonHeader, `{"id":"홍길동","password":"x"}`, 400, "BAD_REQUEST"},
		{"login: id over 128 characters", "POST", loginPath, jsonHeader, `{"id":"` + strings.Repeat("a", 129) + `","password":"x"}`, 400, "BAD_REQUEST"},
		{"login: credentials in body and query", "POST", loginPath + "?id=hong2&password=x", jsonHeader, `{"id":"hong2","password":"x"}`, 400, "BAD_REQUEST"},
		{"login: id given twice", "POST", loginPath + "?id=hong2&id=kim01&password=x", nil, ``, 400, "BAD_REQUEST"},
		{"login: password given twice", "POST", loginPath + "?id=hong2&password=x&password=y", nil, ``, 400, "BAD_REQUEST"},
		{"login: malformed query", "POST", loginPath + "?id=%zz&password=" + wrong, nil, ``, 400, "BAD_REQUEST"},
		{"login: company with an injection", "POST", "/api/customer/apt001'--/login", jsonHeader, `{"id":"hong2","password":"x"}`, 400, "BAD_REQUEST"},
		{"login: company in Hangul", "POST", "/api/customer/" + url.PathEscape("아파트") + "/login", jsonHeader, `{"id":"hong2","password":"x"}`, 400, "BAD_REQUEST"},
		{"login: company with an encoded slash", "POST", "/api/customer/apt%2F001/login", jsonHeader, `{"id":"hong2","password":"x"}`, 400, "BAD_REQUEST"},
		{"login: company with an encoded dot-dot", "POST", "/api/customer/%2E%2E/login", jsonHeader, `{"id":"hong2","password":"x"}`, 400, "BAD_REQUEST"},
		{"login: company over 64 characters", "POST", "/api/customer/" + strings.Repeat("c", 65) + "/login", jsonHeader, `{"id":"hong2","password":"x"}`, 400, "BAD_REQUEST"},
		{"login: company path with a slash", "POST", "/api/customer/apt/001/login", jsonHeader, `{"id":"hong2","password":"x"}`, 404, ""},

		{"chatbot: no Authorization", "POST", "/api/customer/chatbot", nil, ``, 401, "UNAUTHORIZED"},
		{"chatbot: Basic credentials", "POST", "/api/customer/chatbot", map[string]string{"Authorization": "Basic aG9uZzI6MTIzNA=="}, ``, 401, "UNAUTHORIZED"},
		{"chatbot: Bearer without a token", "POST", "/api/customer/chatbot", map[string]string{"Authorization": "Bearer "}, ``, 401, "UNAUTHORIZED"},
		{"chatbot: token without the scheme", "POST", "/api/customer/chatbot", map[string]string{"Authorization": cu.Token}, ``, 401, "UNAUTHORIZED"},
		{"chatbot: a 16 KiB token", "POST", "/api/customer/chatbot", map[string]string{"Authorization": "Bearer " + strings.Repeat("A", 16<<10)}, ``, 401, "UNAUTHORIZED"},
		{"chatbot: body over API Gateway's 10 MB", "POST", "/api/customer/chatbot", map[string]string{"Authorization": "Bearer " + cu.Token}, strings.Repeat("x", 10<<20+1), 413, ""},
		{"no such route", "POST", "/api/customer/apt001/logout", nil, ``, 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			writes := h.writes()
			r := h.do(t, tt.method, tt.path, tt.header, tt.body)
			if r.Status != tt.status {
				t.Fatalf("%s %s: %d %s, want %d", tt.method, redact(tt.path), r.Status, redact(string(r.Body)), tt.status)
			}
			if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
				t.Errorf("Content-Type %q", r.Header.Get("Content-Type"))
			}
			if tt.code != "" {
				if e := r.errorBody(t); e.Code != tt.code || e.Message == "" {
					t.Errorf("error body %+v, want code %s and a message", e, tt.code)
				}
			} else {
				var gw struct{ Message string }
				if err := json.Unmarshal(r.Body, &gw); err != nil || gw.Message == "" {
					t.Errorf("API Gateway answer %q, want {\"message\": ...}", r.Body)
				}
			}
			if w := h.writes() - writes; w != 0 {
				t.Errorf("rejected input caused %d DynamoDB writes", w)
			}
		})
	}
}

func TestInput_LoginToAnUnknownCompanyIsAnOrdinaryFailure(t *testing.T) {
	wrong := "wrong-" + randHex(8)
	h.secrets.add("wrong password", wrong)
	unknown := h.attempt(t, http.DefaultClient, "nocompany"+randHex(3), "hong2", wrong)
	known := h.attempt(t, http.DefaultClient, "apt001", "nobody"+randHex(3), wrong)
	if unknown.Status != http.StatusUnauthorized || unknown.Body != known.Body {
		t.Fatalf("unknown company: %d %s; unknown user: %d %s; want the same 401", unknown.Status, unknown.Body, known.Status, known.Body)
	}
}

func TestInput_BadHandshakesAreRefusedAndStoreNothing(t *testing.T) {
	cu := h.newCustomer(t, "apt001")
	tok, room := url.QueryEscape(cu.Token), url.QueryEscape(cu.Room)
	tests := []struct {
		name   string
		query  string
		status int
		code   string
	}{
		{"no query", "", 401, "UNAUTHORIZED"},
		{"no token", "roomId=" + room, 401, "UNAUTHORIZED"},
		{"empty token", "token=&roomId=" + room, 401, "UNAUTHORIZED"},
		{"no roomId", "token=" + tok, 400, "BAD_REQUEST"},
		{"empty roomId", "token=" + tok + "&roomId=", 400, "BAD_REQUEST"},
		{"roomId with an SQL injection", "token=" + tok + "&roomId=" + url.QueryEscape("room-1' OR '1'='1"), 400, "BAD_REQUEST"},
		{"roomId with a NoSQL operator", "token=" + tok + "&roomId=" + url.QueryEscape(`{"$ne":null}`), 400, "BAD_REQUEST"},
		{"roomId in Hangul", "token=" + tok + "&roomId=" + url.QueryEscape("방-1"), 400, "BAD_REQUEST"},
		{"roomId with slashes", "token=" + tok + "&roomId=" + url.QueryEscape("room/../"+cu.Room), 400, "BAD_REQUEST"},
		{"roomId over 64 characters", "token=" + tok + "&roomId=" + strings.Repeat("r", 65), 400, "BAD_REQUEST"},
		{"roomId given twice", "token=" + tok + "&roomId=" + room + "&roomId=" + room, 400, "BAD_REQUEST"},
		{"token given twice", "token=" + tok + "&token=" + tok + "&roomId=" + room, 400, "BAD_REQUEST"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			writes := h.writes()
			status, e := h.refusal(t, tt.query)
			if status != tt.status || e.Code != tt.code || e.Message == "" {
				t.Fatalf("refused with %d %+v, want %d %s", status, e, tt.status, tt.code)
			}
			if w := h.writes() - writes; w != 0 {
				t.Errorf("a refused handshake caused %d DynamoDB writes", w)
			}
		})
	}
	if conns := h.roomConnections(t, cu.Room); len(conns) != 0 {
		t.Fatalf("refused handshakes left %d connection items", len(conns))
	}
}

func TestInput_BadMessagesGetOneErrorFrameAndAskNothing(t *testing.T) {
	cu := h.newCustomer(t, "apt001")
	c := h.dial(t, cu.Token, cu.Room)
	msg := func(fields string) string { return `{"action":"sendMessage",` + fields + `}` }
	tests := []struct {
		name   string
		body   string
		binary bool
		code   string
	}{
		{"not JSON", `hello`, false, "INVALID_MESSAGE"},
		{"empty object", `{}`, false, "UNKNOWN_ACTION"},
		{"no action", `{"message":"관리비?"}`, false, "UNKNOWN_ACTION"},
		{"unknown action", `{"action":"deleteAll","message":"관리비?"}`, false, "UNKNOWN_ACTION"},
		{"action of the wrong type", `{"action":5,"message":"관리비?"}`, false, "UNKNOWN_ACTION"},
		{"action in another case", `{"action":"SendMessage","message":"관리비?"}`, false, "UNKNOWN_ACTION"},
		{"JSON array", `[{"action":"sendMessage","message":"관리비?"}]`, false, "INVALID_MESSAGE"},
		{"no message", `{"action":"sendMessage"}`, false, "INVALID_MESSAGE"},
		{"empty message", msg(`"message":""`), false, "INVALID_MESSAGE"},
		{"white space message", msg(`"message":" \n\t\u3000 "`), false, "INVALID_MESSAGE"},
		{"null message", msg(`"message":null`), false, "INVALID_MESSAGE"},
		{"message of the wrong type", msg(`"message":42`), false, "INVALID_MESSAGE"},
		{"message as an object", msg(`"message":{"text":"관리비?"}`), false, "INVALID_MESSAGE"},
		{"message over 2000 characters", msg(`"message":"` + strings.Repeat("가", 2001) + `"`), false, "INVALID_MESSAGE"},
		{"message with a BEL", msg(`"message":"관리비\u0007?"`), false, "INVALID_MESSAGE"},
		{"message with a NUL", msg(`"message":"관리비\u0000?"`), false, "INVALID_MESSAGE"},
		{"message with a C1 control", msg(`"message":"관리비\u0085?"`), false, "INVALID_MESSAGE"},
		{"category over 100 characters", msg(`"message":"관리비?","category1":"` + strings.Repeat("c", 101) + `"`), false, "INVALID_MESSAGE"},
		{"category with a newline", msg(`"message":"관리비?","category2":"a\nb"`), false, "INVALID_MESSAGE"},
		{"category of the wrong type", msg(`"message":"관리비?","category1":["a"]`), false, "INVALID_MESSAGE"},
		{"body over 16 KiB", msg(`"message":"관리비?","pad":"` + strings.Repeat("x", 20<<10) + `"`), false, "INVALID_MESSAGE"},
		{"data after the JSON", msg(`"message":"관리비?"`) + ` {"action":"sendMessage"}`, false, "INVALID_MESSAGE"},
		{"invalid UTF-8 in a binary frame", "\xff\xfe\x00garbage", true, "INVALID_MESSAGE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			writes := h.writes()
			if tt.binary {
				c.sendBinary(t, []byte(tt.body))
			} else {
				c.send(t, tt.body)
			}
			a := c.readAnswer(t)
			if a.Terminal.Type != "error" || a.Terminal.Code != tt.code || a.Frames != 1 || a.SessionID != "" ||
				!strings.HasPrefix(a.MessageID, "m-") {
				t.Fatalf("answered %s, want one error frame %s", redactFrame(a.Terminal), tt.code)
			}
			checkClientMessage(t, a.Terminal)
			if w := h.writes() - writes; w != 0 {
				t.Errorf("a rejected message caused %d DynamoDB writes", w)
			}
		})
	}
	if msgs := h.history(t, cu.Room); len(msgs) != 0 {
		t.Fatalf("rejected messages left %d history items", len(msgs))
	}
	if turns := h.rag.rag.History(cu.Room); len(turns) != 0 {
		t.Fatalf("rejected messages reached the RAG service: %+v", turns)
	}
	h.finish(t, c)
}

// RFC 6455 (8.1) fails a connection whose text message is not UTF-8 with
// 1007; at least the function must see the bytes and refuse them. Never may
// the message be answered as if the bad bytes were U+FFFD.
func TestInput_InvalidUTF8InATextFrameIsNeverAnswered(t *testing.T) {
	cu := h.newCustomer(t, "apt001")
	c := h.dial(t, cu.Token, cu.Room)
	c.send(t, "{\"action\":\"sendMessage\",\"message\":\"관리비\xff는?\"}")
	f, ok := c.nextOrEnd(t)
	switch {
	case !ok:
		if status := c.closeStatus(t); status != websocket.StatusInvalidFramePayloadData {
			t.Fatalf("socket closed with %d, want 1007", status)
		}
	case f.Type != "error" || f.Code != "INVALID_MESSAGE":
		t.Errorf("answered with %s; want 1007 or an INVALID_MESSAGE error frame", redactFrame(f))
		// Let the wrongful answer end before the next test counts writes.
		c.unread(f)
		a := c.readAnswer(t)
		h.out.waitFor(t, `"answered"`, quoted(a.MessageID))
	}
	if turns := h.rag.rag.History(cu.Room); len(turns) != 0 {
		t.Fatalf("the RAG service was asked %q", turns[0].Question)
	}
}

func TestInput_AFrameOver32KBClosesTheSocketWith1009AndDeletesItsConnection(t *testing.T) {
	cu := h.newCustomer(t, "apt001")
	c := h.dial(t, cu.Token, cu.Room)
	c.send(t, `{"action":"sendMessage","message":"`+strings.Repeat("x", 33<<10)+`"}`)
	if status := c.closeStatus(t); status != websocket.StatusMessageTooBig {
		t.Fatalf("closed with %d, want 1009", status)
	}
	h.waitNoConnections(t, cu.Room)
	if msgs := h.history(t, cu.Room); len(msgs) != 0 {
		t.Fatalf("the oversized frame left %d history items", len(msgs))
	}
}
