package wsapi

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"
	"github.com/aws/smithy-go"
)

func TestFaults_InjectedStatusesReachSDKTyped(t *testing.T) {
	tests := []struct {
		status   int
		wantCode string
		typed    func(error) bool
	}{
		{429, "LimitExceededException", func(err error) bool { var e *types.LimitExceededException; return errors.As(err, &e) }},
		{410, "GoneException", func(err error) bool { var e *types.GoneException; return errors.As(err, &e) }},
		{403, "ForbiddenException", func(err error) bool { var e *types.ForbiddenException; return errors.As(err, &e) }},
		{500, "InternalServerErrorException", func(error) bool { return true }},
	}
	for _, tt := range tests {
		t.Run(tt.wantCode, func(t *testing.T) {
			h := start(t, Config{Faults: Faults{Status: tt.status, Count: 1}}, nil)
			c, ev := h.dial("", nil)
			id := ev.RequestContext.ConnectionID
			api := h.sdk()

			_, err := api.PostToConnection(ctxGuard(t), postInput(id, []byte("lost")))
			var apiErr smithy.APIError
			if !errors.As(err, &apiErr) || apiErr.ErrorCode() != tt.wantCode || !tt.typed(err) {
				t.Fatalf("injected post: %v, want %s", err, tt.wantCode)
			}
			if _, err := api.PostToConnection(ctxGuard(t), postInput(id, []byte("kept"))); err != nil {
				t.Fatalf("post after the injected count: %v", err)
			}
			if _, got := read(t, c); string(got) != "kept" {
				t.Errorf("client got %q, want only the post that was not failed", got)
			}
			st := h.srv.Stats()
			if st.Posts != 2 || st.Injected != 1 || st.Delivered != 1 || st.Bytes != 4 {
				t.Errorf("stats = %+v", st)
			}
			if f := h.srv.Faults(); f != (Faults{}) {
				t.Errorf("faults after the count ran out = %+v", f)
			}
		})
	}
}

func TestFaults_RateOneFailsEveryPostRateZeroNone(t *testing.T) {
	h := start(t, Config{}, nil)
	_, ev := h.dial("", nil)
	id := ev.RequestContext.ConnectionID
	api := h.sdk()
	if err := h.srv.SetFaults(Faults{Status: 500, Rate: 1}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := api.PostToConnection(ctxGuard(t), postInput(id, []byte("x"))); err == nil {
			t.Fatal("post succeeded at rate 1")
		}
	}
	if err := h.srv.SetFaults(Faults{Status: 500, Rate: 0}); err != nil {
		t.Fatal(err)
	}
	if _, err := api.PostToConnection(ctxGuard(t), postInput(id, []byte("x"))); err != nil {
		t.Fatalf("post failed at rate 0: %v", err)
	}
	if st := h.srv.Stats(); st.Injected != 3 || st.Delivered != 1 {
		t.Errorf("stats = %+v", st)
	}
}

func TestFaults_LatencyDelaysEveryPost(t *testing.T) {
	const latency = 40 * time.Millisecond
	h := start(t, Config{Faults: Faults{LatencyMs: int(latency / time.Millisecond)}}, nil)
	c, ev := h.dial("", nil)
	began := time.Now()
	if _, err := h.sdk().PostToConnection(ctxGuard(t), postInput(ev.RequestContext.ConnectionID, []byte("x"))); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(began); took < latency {
		t.Errorf("post took %v, less than the injected %v", took, latency)
	}
	read(t, c)
}

func TestFaults_ControlEndpoint(t *testing.T) {
	h := start(t, Config{}, nil)
	c, ev := h.dial("", nil)
	id := ev.RequestContext.ConnectionID
	do := func(method, path, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, h.ts.URL+"/prod/"+path, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	if code, body := do("PUT", "@faults", `{"latencyMs":1,"status":429,"count":2}`); code != 200 || body != `{"latencyMs":1,"status":429,"count":2,"rate":0}` {
		t.Fatalf("PUT @faults = %d %s", code, body)
	}
	api := h.sdk()
	for i := range 3 {
		_, err := api.PostToConnection(ctxGuard(t), postInput(id, []byte("x")))
		if (err != nil) != (i < 2) {
			t.Fatalf("post %d: %v", i, err)
		}
	}
	read(t, c)
	if code, body := do("GET", "@faults", ""); code != 200 || body != `{"latencyMs":1,"status":0,"count":0,"rate":0}` {
		t.Errorf("GET @faults = %d %s", code, body)
	}
	for _, bad := range []string{`{"status":418}`, `{"rate":2}`, `{"count":-1}`, `{"latencyMs":-5}`, `{"statuss":429}`, `not json`} {
		if code, _ := do("PUT", "@faults", bad); code != 400 {
			t.Errorf("PUT @faults %s = %d, want 400", bad, code)
		}
	}
	if code, _ := do("DELETE", "@faults", ""); code != 204 || h.srv.Faults() != (Faults{}) {
		t.Errorf("DELETE @faults = %d, faults %+v", code, h.srv.Faults())
	}

	code, body := do("GET", "@stats", "")
	var st Stats
	if err := json.Unmarshal([]byte(body), &st); err != nil || code != 200 {
		t.Fatalf("GET @stats = %d %s", code, body)
	}
	want := Stats{Posts: 3, Delivered: 1, Bytes: 1, Injected: 2,
		Connections: map[string]ConnectionStats{id: {Posts: 3, Delivered: 1, Bytes: 1}}}
	if !statsEqual(st, want) {
		t.Errorf("stats = %+v, want %+v", st, want)
	}
	if code, _ := do("DELETE", "@stats", ""); code != 204 || !statsEqual(h.srv.Stats(), Stats{}) {
		t.Errorf("DELETE @stats = %d, stats %+v", code, h.srv.Stats())
	}
}

func TestStats_CountPerConnection(t *testing.T) {
	h := start(t, Config{}, nil)
	c1, ev1 := h.dial("", nil)
	c2, ev2 := h.dial("", nil)
	id1, id2 := ev1.RequestContext.ConnectionID, ev2.RequestContext.ConnectionID
	api := h.sdk()
	posts := []struct {
		id   string
		data string
	}{{id1, "ab"}, {id1, "cde"}, {id2, "f"}, {"AAAAAAAAAAAAAAA=", "gone"}}
	for _, p := range posts {
		_, _ = api.PostToConnection(ctxGuard(t), postInput(p.id, []byte(p.data)))
	}
	read(t, c1)
	read(t, c1)
	read(t, c2)
	want := Stats{Posts: 4, Delivered: 3, Bytes: 6, Gone: 1, Connections: map[string]ConnectionStats{
		id1: {Posts: 2, Delivered: 2, Bytes: 5},
		id2: {Posts: 1, Delivered: 1, Bytes: 1},
	}}
	if got := h.srv.Stats(); !statsEqual(got, want) {
		t.Errorf("stats = %+v, want %+v", got, want)
	}
}

func statsEqual(a, b Stats) bool {
	if len(a.Connections) == 0 && len(b.Connections) == 0 {
		a.Connections, b.Connections = nil, nil
	}
	return reflect.DeepEqual(a, b)
}
