package apigw

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"
)

func decodeErrorBody(t *testing.T, body string) ErrorBody {
	t.Helper()
	var b ErrorBody
	dec := json.NewDecoder(strings.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		t.Fatalf("error body %q: %v", body, err)
	}
	return b
}

func TestHTTPError_ClientErrorKeepsStatusCodeAndMessage(t *testing.T) {
	err := fmt.Errorf("login: %w", NewError(http.StatusTooManyRequests, CodeLoginThrottled, "too many failed logins"))
	resp := HTTPError(err)
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("status = %d", resp.StatusCode)
	}
	if got := decodeErrorBody(t, resp.Body); got != (ErrorBody{CodeLoginThrottled, "too many failed logins"}) {
		t.Fatalf("body = %+v", got)
	}
	if ct := resp.Headers["Content-Type"]; !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("content type = %q", ct)
	}
}

func TestHTTPError_RetryLaterSaysWhenInWholeSecondsRoundedUp(t *testing.T) {
	limited := NewError(http.StatusTooManyRequests, CodeRoomLimit, "too many rooms")
	for _, c := range []struct {
		after time.Duration
		want  string
	}{
		{time.Hour, "3600"},
		{1500 * time.Millisecond, "2"},
		{time.Millisecond, "1"},
		{0, "1"},
		{-time.Second, "1"},
	} {
		resp := HTTPError(fmt.Errorf("create: %w", RetryLater{Err: limited, After: c.after}))
		if resp.StatusCode != http.StatusTooManyRequests || resp.Headers["Retry-After"] != c.want || decodeErrorBody(t, resp.Body).Code != CodeRoomLimit {
			t.Errorf("after %v: %d %v %s; want 429 ROOM_LIMIT, Retry-After %s", c.after, resp.StatusCode, resp.Headers, resp.Body, c.want)
		}
	}
	if resp := HTTPError(limited); resp.Headers["Retry-After"] != "" {
		t.Errorf("a plain *Error has Retry-After %q", resp.Headers["Retry-After"])
	}
}

func TestHTTPError_OtherErrorsBecomeOpaque500(t *testing.T) {
	resp := HTTPError(errors.New("dynamodb: table ragchat-users-secret-name not found at 10.0.0.3"))
	if resp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("status = %d", resp.StatusCode)
	}
	b := decodeErrorBody(t, resp.Body)
	if b.Code != CodeInternal || strings.Contains(resp.Body, "dynamodb") {
		t.Fatalf("body leaks or wrong code: %s", resp.Body)
	}
}

func TestWSError_SameMappingAsHTTP(t *testing.T) {
	resp := WSError(NewError(http.StatusForbidden, CodeForbidden, "not your room"))
	if resp.StatusCode != http.StatusForbidden || decodeErrorBody(t, resp.Body).Code != CodeForbidden {
		t.Fatalf("resp = %+v", resp)
	}
	if resp := WSError(errors.New("boom")); resp.StatusCode != 500 || decodeErrorBody(t, resp.Body).Code != CodeInternal {
		t.Fatalf("resp = %+v", resp)
	}
	if ok := WSOK(); ok.StatusCode != 200 || ok.Body != "" {
		t.Fatalf("WSOK = %+v", ok)
	}
}

func TestHTTPJSON_UnencodableValueIs500(t *testing.T) {
	resp := HTTPJSON(200, math.Inf(1))
	if resp.StatusCode != 500 || decodeErrorBody(t, resp.Body).Code != CodeInternal {
		t.Fatalf("resp = %+v", resp)
	}
	resp = HTTPJSON(200, map[string]any{"roomId": nil, "userName": "고객-275b"})
	if resp.StatusCode != 200 || resp.Body != `{"roomId":null,"userName":"고객-275b"}` {
		t.Fatalf("resp = %+v", resp)
	}
}

func statusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

func TestBody(t *testing.T) {
	b64 := base64.StdEncoding.EncodeToString
	cases := []struct {
		name     string
		body     string
		isBase64 bool
		want     string
		status   int
	}{
		{"plain", `{"id":"a"}`, false, `{"id":"a"}`, 0},
		{"plain at limit", strings.Repeat("x", 16), false, strings.Repeat("x", 16), 0},
		{"plain over limit", strings.Repeat("x", 17), false, "", 413},
		{"base64", b64([]byte(`{"id":"a"}`)), true, `{"id":"a"}`, 0},
		{"base64 at limit", b64([]byte(strings.Repeat("y", 16))), true, strings.Repeat("y", 16), 0},
		{"base64 over limit", b64([]byte(strings.Repeat("y", 17))), true, "", 413},
		{"base64 far over limit", b64([]byte(strings.Repeat("y", 1<<20))), true, "", 413},
		{"bad base64", "!!!", true, "", 400},
		{"empty", "", false, "", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Body(c.body, c.isBase64, 16)
			if statusOf(err) != c.status || (err == nil && string(got) != c.want) {
				t.Fatalf("Body = %q, %v; want %q, status %d", got, err, c.want, c.status)
			}
		})
	}
}

func TestDecodeJSON(t *testing.T) {
	type creds struct {
		ID       string `json:"id"`
		Password string `json:"password"`
	}
	cases := []struct {
		name, body string
		want       creds
		msg        string // substring of the 400 message; "" means success
	}{
		{"object", `{"id":"hong2","password":"1234"}`, creds{"hong2", "1234"}, ""},
		{"unknown fields ignored", `{"id":"hong2","password":"1234","remember":true}`, creds{"hong2", "1234"}, ""},
		{"surrounding whitespace", " \n{\"id\":\"a\"}\n ", creds{ID: "a"}, ""},
		{"wrong type", `{"id":5,"password":"1234"}`, creds{}, `"id" must be a string`},
		{"array", `["hong2","1234"]`, creds{}, "JSON object"},
		{"string", `"hong2"`, creds{}, "JSON object"},
		{"malformed", `{"id":"hong2",`, creds{}, "not valid JSON"},
		{"empty", ``, creds{}, "empty"},
		{"trailing data", `{"id":"a"} {"id":"b"}`, creds{}, "after the JSON value"},
		{"trailing garbage", `{"id":"a"}x`, creds{}, "after the JSON value"},
		{"invalid UTF-8", "{\"id\":\"\xff\xfe\"}", creds{}, "UTF-8"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got creds
			err := DecodeJSON([]byte(c.body), &got)
			if c.msg == "" {
				if err != nil || got != c.want {
					t.Fatalf("DecodeJSON = %+v, %v; want %+v", got, err, c.want)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || e.Status != 400 || e.Code != CodeBadRequest || !strings.Contains(e.Message, c.msg) {
				t.Fatalf("DecodeJSON error = %v; want 400 containing %q", err, c.msg)
			}
		})
	}
}

func TestHeader_MatchesCaseInsensitively(t *testing.T) {
	h := map[string]string{"authorization": "Bearer a", "Content-Type": "application/json"}
	for name, want := range map[string]string{
		"Authorization": "Bearer a", "authorization": "Bearer a", "content-type": "application/json", "X-Missing": "",
	} {
		if got := Header(h, name); got != want {
			t.Errorf("Header(%q) = %q, want %q", name, got, want)
		}
	}
	if Header(nil, "Authorization") != "" {
		t.Error("nil headers")
	}
}

func TestQuery_PrefersRawThenMultiThenSingle(t *testing.T) {
	cases := []struct {
		name   string
		raw    string
		multi  map[string][]string
		single map[string]string
		want   url.Values
		status int
	}{
		{"raw", "id=hong2&password=a%2Bb+c", nil, map[string]string{"id": "ignored"},
			url.Values{"id": {"hong2"}, "password": {"a+b c"}}, 0},
		{"raw duplicate kept", "id=a&id=b", nil, map[string]string{"id": "a,b"}, url.Values{"id": {"a", "b"}}, 0},
		{"raw malformed", "id=%zz", nil, nil, nil, 400},
		{"multi", "", map[string][]string{"token": {"t"}, "roomId": {"r1", "r2"}}, map[string]string{"token": "t"},
			url.Values{"token": {"t"}, "roomId": {"r1", "r2"}}, 0},
		{"single", "", nil, map[string]string{"token": "t"}, url.Values{"token": {"t"}}, 0},
		{"none", "", nil, nil, url.Values{}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Query(c.raw, c.multi, c.single)
			if statusOf(err) != c.status || (err == nil && !reflect.DeepEqual(got, c.want)) {
				t.Fatalf("Query = %v, %v; want %v, status %d", got, err, c.want, c.status)
			}
		})
	}
}

func TestOne(t *testing.T) {
	v := url.Values{"id": {"hong2"}, "dup": {"a", "b"}, "bad": {"\xff"}}
	cases := []struct {
		key, want string
		status    int
	}{
		{"id", "hong2", 0},
		{"missing", "", 0},
		{"dup", "", 400},
		{"bad", "", 400},
	}
	for _, c := range cases {
		got, err := One(v, c.key)
		if got != c.want || statusOf(err) != c.status {
			t.Errorf("One(%q) = %q, %v; want %q, status %d", c.key, got, err, c.want, c.status)
		}
	}
}

func TestCodeOf_IsTheCodeTheClientIsAnswered(t *testing.T) {
	wrapped := fmt.Errorf("connect: %w", NewError(http.StatusForbidden, CodeForbidden, "no"))
	for err, want := range map[error]string{nil: "", wrapped: CodeForbidden, errors.New("db down"): CodeInternal, BadRequest("x"): CodeBadRequest} {
		if got := CodeOf(err); got != want {
			t.Errorf("CodeOf(%v) = %q, want %q", err, got, want)
		}
	}
}
