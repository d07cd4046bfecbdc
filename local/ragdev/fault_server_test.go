package ragdev

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/ragchat/ragchat/internal/testkit"
)

const gymQuestion = "헬스장 몇 시까지 해요?"

// TestFaults_FramingVariationsStillCarryTheExactAnswer covers the faults
// that change how a complete answer is framed.
func TestFaults_FramingVariationsStillCarryTheExactAnswer(t *testing.T) {
	answer := entryAnswer(t, "apt001", "gym")
	n := len(pieces(answer))
	tests := []struct {
		spec  string
		eol   string
		check func(t *testing.T, body string, s stream)
	}{
		{"none", "\n", func(t *testing.T, body string, s stream) {
			if strings.Contains(body, "\n\n") || strings.Contains(body, "\r") {
				t.Error("trace framing has no blank lines and no CR")
			}
		}},
		{"crlf", "\r\n", func(t *testing.T, body string, s stream) {
			if strings.Count(body, "\r\n") != s.events+1 || strings.Count(body, "\n") != s.events+1 {
				t.Error("not every line ends in CR LF")
			}
		}},
		{"cr", "\r", func(t *testing.T, body string, s stream) {
			if strings.Contains(body, "\n") || strings.Count(body, "\r") != s.events+1 {
				t.Error("not every line ends in a bare CR")
			}
		}},
		{"blank-lines", "\n", func(t *testing.T, body string, s stream) {
			if strings.Count(body, "\n\n") != s.events+1 {
				t.Error("not every event is followed by a blank line")
			}
		}},
		{"keepalive", "\n", func(t *testing.T, body string, s stream) {
			if s.comments != s.events+1 || !strings.HasPrefix(body, ": ping\n") {
				t.Errorf("%d comments for %d events", s.comments, s.events)
			}
		}},
		{"fields", "\n", func(t *testing.T, body string, s stream) {
			if !strings.HasPrefix(body, "retry: 3000\nevent: message\nid: 1\ndata: ") || s.fields != 2*(s.events+1)+1 {
				t.Errorf("%d field lines for %d events", s.fields, s.events)
			}
		}},
		{"nospace", "\n", func(t *testing.T, body string, s stream) {
			if strings.Contains(body, "data: ") || !strings.HasPrefix(body, `data:{"sessionId"`) {
				t.Error(`want "data:" without the space`)
			}
		}},
		{"no-final-newline", "\n", func(t *testing.T, body string, s stream) {
			if !strings.HasSuffix(body, "}\ndata: [DONE]") {
				t.Errorf("body ends %q", body[len(body)-20:])
			}
		}},
		{"complete-with-text", "\n", func(t *testing.T, body string, s stream) {
			last := s.deltas[len(s.deltas)-1]
			if last == "" || !strings.Contains(body, `", "isComplete": true}`) || strings.Contains(body, `"delta": "", "isComplete": true`) {
				t.Errorf("final event carries %q", last)
			}
		}},
		{"no-done", "\n", func(t *testing.T, body string, s stream) {
			if s.done || !strings.HasSuffix(body, `"isComplete": true}`+"\n") {
				t.Error("stream has [DONE] or does not end with the final event")
			}
		}},
		{"malformed", "\n", func(t *testing.T, body string, s stream) {
			if s.malformed != MalformedLines {
				t.Errorf("%d malformed lines, want %d", s.malformed, MalformedLines)
			}
		}},
		{"huge-line", "\n", func(t *testing.T, body string, s stream) {
			if len(s.deltas) != n+3 || s.deltas[CutPieces+1] != hugeDelta(HugeLineBytes) {
				t.Fatalf("want the 1 MiB delta right after piece %d", CutPieces)
			}
		}},
		{"slow:1ms,crlf,blank-lines,keepalive,fields,nospace", "\r\n", func(t *testing.T, body string, s stream) {}},
		{"stall-mid:1ms", "\n", func(t *testing.T, body string, s stream) {}},
		{"stall-before-first:1ms", "\n", func(t *testing.T, body string, s stream) {}},
		{"stall-headers:1ms", "\n", func(t *testing.T, body string, s stream) {}},
	}
	_, ts := start(t, Options{})
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			resp, body := askText(t, ts.URL, "room-f", gymQuestion+" #fault="+tt.spec)
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream; charset=utf-8" {
				t.Fatalf("status %d, %s", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			s := readStream(t, body, tt.eol)
			want := answer
			if strings.HasPrefix(tt.spec, "huge-line") {
				ps := pieces(answer)
				want = strings.Join(ps[:CutPieces], "") + hugeDelta(HugeLineBytes) + strings.Join(ps[CutPieces:], "")
			}
			if s.answer != want {
				t.Fatalf("answer %.60q..., want %.60q...", s.answer, want)
			}
			if !s.complete || (s.done == strings.Contains(tt.spec, "no-done")) {
				t.Fatalf("complete %v, done %v", s.complete, s.done)
			}
			tt.check(t, body, s)
		})
	}
}

func TestFaults_ReplacingTheResponse(t *testing.T) {
	_, ts := start(t, Options{})
	t.Run("refuse", func(t *testing.T) {
		resp, err := post(t, ts.URL, "application/json", body("apt001", "r", gymQuestion+" #fault=refuse", true))
		if err == nil {
			resp.Body.Close()
			t.Fatalf("got a response %d, want a broken connection", resp.StatusCode)
		}
	})
	t.Run("http500", func(t *testing.T) {
		resp, b := askText(t, ts.URL, "r", gymQuestion+" #fault=http500")
		if resp.StatusCode != http.StatusInternalServerError || b != "Internal Server Error" {
			t.Fatalf("got %d %q", resp.StatusCode, b)
		}
	})
	t.Run("json200", func(t *testing.T) {
		resp, b := askText(t, ts.URL, "r", gymQuestion+" #fault=json200")
		var got struct{ Answer string }
		if err := json.Unmarshal([]byte(b), &got); err != nil || resp.StatusCode != http.StatusOK ||
			resp.Header.Get("Content-Type") != "application/json" || got.Answer != entryAnswer(t, "apt001", "gym") {
			t.Fatalf("got %d %s %.80q (%v)", resp.StatusCode, resp.Header.Get("Content-Type"), b, err)
		}
	})
}

// openStream asks with a fault marker and returns the response with a
// reader over its lines.
func openStream(t *testing.T, url, spec string) (*http.Response, *bufio.Reader) {
	t.Helper()
	resp, err := post(t, url, "application/json", body("apt001", "r", gymQuestion+" #fault="+spec, true))
	if err != nil {
		t.Fatalf("ask with %s: %v", spec, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	return resp, bufio.NewReader(resp.Body)
}

// readLines reads n lines.
func readLines(t *testing.T, r *bufio.Reader, n int) []string {
	t.Helper()
	var out []string
	for range n {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("after %d lines: %v", len(out), err)
		}
		out = append(out, line)
	}
	return out
}

func TestFaults_CuttingTheStream(t *testing.T) {
	pre := CutPieces + 1 // the opening event and the pieces before the cut
	t.Run("eof-before-done ends cleanly after the cut", func(t *testing.T) {
		_, ts := start(t, Options{})
		_, b := askText(t, ts.URL, "r", gymQuestion+" #fault=eof-before-done")
		s := readStream(t, b, "\n")
		if s.events != pre || s.complete || s.done {
			t.Fatalf("%d events, complete %v, done %v", s.events, s.complete, s.done)
		}
		if want := strings.Join(pieces(entryAnswer(t, "apt001", "gym"))[:CutPieces], ""); s.answer != want {
			t.Fatalf("answer %q, want %q", s.answer, want)
		}
	})
	t.Run("reset-mid breaks the body after the cut", func(t *testing.T) {
		_, ts := start(t, Options{})
		_, r := openStream(t, ts.URL, "reset-mid")
		readLines(t, r, pre)
		if rest, err := io.ReadAll(r); err == nil || len(rest) != 0 {
			t.Fatalf("after the cut: %q, %v; want an unexpected EOF", rest, err)
		}
	})
	stalls := []struct {
		spec   string
		before int // lines sent before the stall
	}{
		{"stall-before-first", 0},
		{"stall-mid", pre},
		{"slow", 1}, // the opening event, then a pause as long as a stall
	}
	for _, tt := range stalls {
		t.Run(tt.spec+" holds the stream until released", func(t *testing.T) {
			s, ts := start(t, Options{SlowPieceDelay: DefaultStallFor})
			_, r := openStream(t, ts.URL, tt.spec)
			readLines(t, r, tt.before)
			s.Close()
			if rest, err := io.ReadAll(r); err != nil || len(rest) != 0 {
				t.Fatalf("after release: %q, %v; want a clean end with nothing more", rest, err)
			}
		})
	}
	t.Run("stall-headers sends nothing until released", func(t *testing.T) {
		s, ts := start(t, Options{})
		req, err := http.NewRequest(http.MethodPost, ts.URL+"/v1/chatbot/ask",
			strings.NewReader(body("apt001", "r", gymQuestion+" #fault=stall-headers", true)))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		errc := make(chan error, 1)
		go func() {
			resp, err := http.DefaultClient.Do(req)
			if err == nil {
				resp.Body.Close()
			}
			errc <- err
		}()
		s.Close()
		if err := <-errc; err == nil {
			t.Fatal("got a response, want the connection aborted")
		}
	})
}

func TestFaults_GlobalSwitches(t *testing.T) {
	s, ts := start(t, Options{})
	status := func(message string) int {
		resp, _ := askText(t, ts.URL, "r", message)
		return resp.StatusCode
	}
	put := func(payload string) (int, faultsState) {
		req, _ := http.NewRequest(http.MethodPut, ts.URL+"/_faults", strings.NewReader(payload))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var st faultsState
		json.NewDecoder(resp.Body).Decode(&st)
		return resp.StatusCode, st
	}
	if code, st := put(`{"faults":"http500","count":2}`); code != http.StatusOK || st.Faults != "http500" || st.Count != 2 {
		t.Fatalf("PUT /_faults: %d %+v", code, st)
	}
	if got := status(gymQuestion + " #fault=none"); got != http.StatusOK {
		t.Errorf("a marker did not win over the global faults: %d", got)
	}
	if a, b, c := status(gymQuestion), status(gymQuestion), status(gymQuestion); a != 500 || b != 500 || c != 200 {
		t.Errorf("count 2 gave %d %d %d, want 500 500 200", a, b, c)
	}
	for _, bad := range []string{`{"faults":"nope"}`, `{"faults":"crlf","count":-1}`, `{"fault":"crlf"}`, `crlf`} {
		if code, _ := put(bad); code != http.StatusBadRequest {
			t.Errorf("PUT %s: %d, want 400", bad, code)
		}
	}
	put(`{"faults":"json200"}`)
	if resp, _ := askText(t, ts.URL, "r", gymQuestion); resp.Header.Get("Content-Type") != "application/json" {
		t.Error("global json200 not applied")
	}
	req, _ := http.NewRequest(http.MethodDelete, ts.URL+"/_faults", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := status(gymQuestion); got != 200 {
		t.Errorf("after DELETE /_faults: %d", got)
	}
	f, _ := ParseFaults("http500")
	s.SetFaults(f, 0)
	if a, b := status(gymQuestion), status(gymQuestion); a != 500 || b != 500 {
		t.Error("SetFaults with count 0 did not stay on")
	}
	_, b := testkit.Get(t, ts.URL+"/_faults")
	var st faultsState
	if err := json.Unmarshal(b, &st); err != nil || st.Faults != "http500" || st.Count != 0 {
		t.Errorf("GET /_faults = %+v, %v", st, err)
	}
}

func TestNew_OptionsFaultsApplyFromTheStart(t *testing.T) {
	f, _ := ParseFaults("http500")
	_, ts := start(t, Options{Faults: f, FaultCount: 1})
	if resp, _ := askText(t, ts.URL, "r", gymQuestion); resp.StatusCode != 500 {
		t.Fatalf("first request %d, want 500", resp.StatusCode)
	}
	if resp, _ := askText(t, ts.URL, "r", gymQuestion); resp.StatusCode != 200 {
		t.Fatalf("second request %d, want 200", resp.StatusCode)
	}
	if resp, _ := testkit.Get(t, ts.URL+"/healthz"); resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz %d", resp.StatusCode)
	}
}
