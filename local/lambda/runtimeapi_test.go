package lambda

import (
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// apiEnv serves one environment's Runtime API without a process behind it,
// so that a test can play the runtime.
func apiEnv(t *testing.T) (*env, *httptest.Server) {
	t.Helper()
	p, err := NewPool([]Function{{Name: "F", Path: "/nonexistent/bootstrap"}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(p.funcs["F"], 1)
	srv := httptest.NewServer(e.runtimeAPI())
	t.Cleanup(srv.Close)
	return e, srv
}

// handOver plays one /next and returns the invocation the runtime got.
func handOver(t *testing.T, e *env, srv *httptest.Server) *invocation {
	t.Helper()
	inv := newInvocation([]byte(`{"k":"v"}`))
	inv.deadline = time.Now().Add(time.Minute)
	got := make(chan *http.Response, 1)
	go func() {
		resp, err := http.Get(srv.URL + "/2018-06-01/runtime/invocation/next")
		if err != nil {
			t.Error(err)
		}
		got <- resp
	}()
	e.pending <- inv
	resp := <-got
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.Header.Get(headerRequestID) != inv.id || string(body) != `{"k":"v"}` {
		t.Fatalf("next: id %q body %q", resp.Header.Get(headerRequestID), body)
	}
	return inv
}

func post(t *testing.T, url, body string, trailer http.Header) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, io.NopCloser(strings.NewReader(body)))
	req.Trailer = trailer
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestRuntimeAPI_AnswerForWrongRequestIDIsRejected(t *testing.T) {
	e, srv := apiEnv(t)
	inv := handOver(t, e, srv)
	base := srv.URL + "/2018-06-01/runtime/invocation/"
	for _, path := range []string{"not-" + inv.id + "/response", "not-" + inv.id + "/error"} {
		if code := post(t, base+path, `{}`, nil); code != http.StatusBadRequest {
			t.Fatalf("%s: status %d, want 400", path, code)
		}
	}
	if code := post(t, base+inv.id+"/response", `"ok"`, nil); code != http.StatusAccepted {
		t.Fatalf("response: status %d, want 202", code)
	}
	if res := <-inv.done; res.err != nil || string(res.payload) != `"ok"` {
		t.Fatalf("result = %+v", res)
	}
	if code := post(t, base+inv.id+"/response", `"again"`, nil); code != http.StatusBadRequest {
		t.Fatalf("second response: status %d, want 400", code)
	}
}

func TestRuntimeAPI_ResponseWithErrorTrailersIsFunctionError(t *testing.T) {
	e, srv := apiEnv(t)
	inv := handOver(t, e, srv)
	trailer := http.Header{}
	trailer.Set(trailerErrorType, "ReadError")
	trailer.Set(trailerErrorBody, base64.StdEncoding.EncodeToString([]byte(`{"errorMessage":"stream broke","errorType":"ReadError"}`)))
	if code := post(t, srv.URL+"/2018-06-01/runtime/invocation/"+inv.id+"/response", "partial", trailer); code != http.StatusAccepted {
		t.Fatalf("status %d, want 202", code)
	}
	res := <-inv.done
	var fe *FunctionError
	if !errors.As(res.err, &fe) || fe.Type != "ReadError" || fe.Message != "stream broke" {
		t.Fatalf("result = %+v, want ReadError: stream broke", res)
	}
}

func TestRuntimeAPI_ErrorReportTypes(t *testing.T) {
	tests := []struct {
		name, body, header string
		want               FunctionError
	}{
		{"JSON body", `{"errorMessage":"bad","errorType":"MyError"}`, "", FunctionError{"MyError", "bad"}},
		{"type from header", `{"errorMessage":"bad"}`, "Runtime.Custom", FunctionError{"Runtime.Custom", "bad"}},
		{"plain text body", "it broke\n", "", FunctionError{"Unhandled", "it broke"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parseFunctionError([]byte(tt.body), tt.header); *got != tt.want {
				t.Fatalf("got %+v, want %+v", *got, tt.want)
			}
		})
	}
}
