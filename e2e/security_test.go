package e2e

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// traceToken is the seed trace's login token: bare base64 of JSON, which
// anyone can forge.
const traceToken = "eyJ1c2VySWQiOiJob25nMiIsInVzZXJOYW1lIjoi6rOg6rCdLTI3NWIiLCJyb2xlIjoiQ1VTVE9NRVIiLCJlbWFpbCI6ImhvbmcyQGV4YW1wbGUuY29tIiwidG9rZW4iOm51bGwsInJvb21JZCI6bnVsbCwiY29tcGFueUlkIjoiYXB0MDAxIn0="

// claimsFor returns the claims a login token of u carries, valid for an
// hour.
func claimsFor(u user) jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{
		"sub": u.UserID, "companyId": u.CompanyID, "role": "CUSTOMER", "name": u.UserName,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
}

// with returns a copy of c with the given claims set (nil deletes).
func with(c jwt.MapClaims, kv ...any) jwt.MapClaims {
	out := jwt.MapClaims{}
	for k, v := range c {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
		} else {
			out[kv[i].(string)] = kv[i+1]
		}
	}
	return out
}

// forge signs claims with alg and key ("none" signs nothing). Every token
// made here is registered for the log scan.
func (hr *harness) forge(t testing.TB, c jwt.MapClaims, alg string, key []byte) string {
	t.Helper()
	var s string
	var err error
	if alg == "none" {
		s, err = jwt.NewWithClaims(jwt.SigningMethodNone, c).SignedString(jwt.UnsafeAllowNoneSignatureType)
	} else {
		s, err = jwt.NewWithClaims(jwt.GetSigningMethod(alg), c).SignedString(key)
	}
	if err != nil {
		t.Fatalf("forge %s token: %v", alg, err)
	}
	hr.secrets.addToken("forged token", s)
	return s
}

// hmacToken signs claims with HMAC-SHA256 and key under an arbitrary
// header: the algorithm-confusion, case and empty-key tricks.
func (hr *harness) hmacToken(t testing.TB, header map[string]any, c jwt.MapClaims, key []byte) string {
	t.Helper()
	hb, _ := json.Marshal(header)
	cb, _ := json.Marshal(c)
	signing := base64.RawURLEncoding.EncodeToString(hb) + "." + base64.RawURLEncoding.EncodeToString(cb)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(signing))
	s := signing + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
	hr.secrets.addToken("forged token", s)
	return s
}

// tamper replaces the payload of a signed token, keeping its signature.
func tamper(t testing.TB, token string, c jwt.MapClaims) string {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q is not a JWT", redact(token))
	}
	cb, _ := json.Marshal(c)
	parts[1] = base64.RawURLEncoding.EncodeToString(cb)
	return strings.Join(parts, ".")
}

func TestSecurity_TokenAttacksAreRefusedAtHTTPAndAtConnect(t *testing.T) {
	cu := h.newCustomer(t, "apt001")
	victim := h.newUser(t, "apt001")
	secret := []byte(h.tokenSecret)
	base := claimsFor(cu.user)
	now := time.Now()
	tests := []struct {
		name  string
		token string
		ok    bool
	}{
		{"control: a token signed like the login's", h.forge(t, base, "HS256", secret), true},
		{"expired", h.forge(t, with(base, "iat", now.Add(-2*time.Hour).Unix(), "exp", now.Add(-time.Hour).Unix()), "HS256", secret), false},
		{"expired a little beyond the leeway", h.forge(t, with(base, "exp", now.Add(-2*time.Minute).Unix()), "HS256", secret), false},
		{"not yet valid (nbf)", h.forge(t, with(base, "nbf", now.Add(time.Hour).Unix()), "HS256", secret), false},
		{"issued in the future (iat)", h.forge(t, with(base, "iat", now.Add(time.Hour).Unix()), "HS256", secret), false},
		{"alg none", h.forge(t, base, "none", nil), false},
		{"alg none, signature kept", func() string {
			p := strings.Split(h.forge(t, base, "HS256", secret), ".")
			hb, _ := json.Marshal(map[string]string{"alg": "none", "typ": "JWT"})
			return base64.RawURLEncoding.EncodeToString(hb) + "." + p[1] + "." + p[2]
		}(), false},
		{"algorithm confusion: HS512 with the secret", h.forge(t, base, "HS512", secret), false},
		{"algorithm confusion: HS384 with the secret", h.forge(t, base, "HS384", secret), false},
		{"algorithm confusion: RS256 header, HMAC signature", h.hmacToken(t, map[string]any{"alg": "RS256", "typ": "JWT"}, base, secret), false},
		{"alg spelled hs256", h.hmacToken(t, map[string]any{"alg": "hs256", "typ": "JWT"}, base, secret), false},
		{"wrong key", h.forge(t, base, "HS256", []byte("not-the-stack-secret-but-32-bytes-long")), false},
		{"empty key", h.hmacToken(t, map[string]any{"alg": "HS256", "typ": "JWT"}, base, nil), false},
		{"tampered payload: another user", tamper(t, cu.Token, with(base, "sub", victim.UserID, "name", victim.UserName)), false},
		{"tampered payload: longer life", tamper(t, cu.Token, with(base, "exp", now.Add(365*24*time.Hour).Unix())), false},
		{"signature cut short", cu.Token[:len(cu.Token)-4], false},
		{"signature removed", cu.Token[:strings.LastIndex(cu.Token, ".")+1], false},
		{"the trace's base64 token", traceToken, false},
		{"no exp", h.forge(t, with(base, "exp", nil), "HS256", secret), false},
		{"no sub", h.forge(t, with(base, "sub", nil), "HS256", secret), false},
		{"no companyId", h.forge(t, with(base, "companyId", nil), "HS256", secret), false},
		{"garbage", "not.a.token", false},
		{"JSON instead of a token", `{"sub":"` + cu.UserID + `","companyId":"apt001"}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			writes := h.writes()
			r := h.do(t, http.MethodPost, "/api/customer/chatbot", map[string]string{"Authorization": "Bearer " + tt.token}, "")
			if tt.ok {
				if r.Status != http.StatusOK {
					t.Fatalf("chatbot: %d %s, want 200", r.Status, r.Body)
				}
				c := h.dial(t, tt.token, cu.Room)
				c.close()
				h.waitNoConnections(t, cu.Room)
				return
			}
			if e := r.errorBody(t); r.Status != http.StatusUnauthorized || e.Code != "UNAUTHORIZED" {
				t.Errorf("chatbot: %d %+v, want 401 UNAUTHORIZED", r.Status, e)
			}
			if !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("chatbot 401 without a Bearer challenge: %q", r.Header.Get("WWW-Authenticate"))
			}
			status, e := h.refusal(t, url.Values{"token": {tt.token}, "roomId": {cu.Room}}.Encode())
			if status != http.StatusUnauthorized || e.Code != "UNAUTHORIZED" {
				t.Errorf("$connect: %d %+v, want 401 UNAUTHORIZED", status, e)
			}
			if w := h.writes() - writes; w != 0 {
				t.Errorf("a refused token caused %d DynamoDB writes", w)
			}
		})
	}
}

func TestSecurity_ConnectRefusesRoomsOfOtherUsersAndCompaniesAlike(t *testing.T) {
	owner := h.newCustomer(t, "apt001")
	sameCompany := h.newCustomer(t, "apt001")
	otherCompany := h.newCustomer(t, "book001")
	// The same user id in another company: only the company tells them apart.
	twin := user{CompanyID: "book001", UserID: owner.UserID, UserName: "쌍둥이"}
	h.putUser(t, twin)
	twinToken := h.login(t, twin)
	// A room id of the right form that does not exist.
	unknownRoom := "room-" + randHex(4)

	var messages []string
	tests := []struct {
		name, token, room string
	}{
		{"a user of the same company", sameCompany.Token, owner.Room},
		{"a user of another company", otherCompany.Token, owner.Room},
		{"the same user id in another company", twinToken, owner.Room},
		{"the owner of another company's room", owner.Token, otherCompany.Room},
		{"a room that does not exist", owner.Token, unknownRoom},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			writes := h.writes()
			status, e := h.refusal(t, url.Values{"token": {tt.token}, "roomId": {tt.room}}.Encode())
			if status != http.StatusForbidden || e.Code != "FORBIDDEN" {
				t.Fatalf("$connect: %d %+v, want 403 FORBIDDEN", status, e)
			}
			messages = append(messages, e.Message)
			if w := h.writes() - writes; w != 0 {
				t.Errorf("a refused handshake caused %d DynamoDB writes", w)
			}
		})
	}
	for _, m := range messages[1:] {
		if m != messages[0] {
			t.Errorf("refusals differ (%q vs %q): the handshake tells unknown rooms from others' rooms", m, messages[0])
		}
	}
}

func TestSecurity_SendMessageCannotReachAnotherRoomOrCompany(t *testing.T) {
	a := h.newCustomer(t, "apt001")
	b := h.newCustomer(t, "book001")
	ca := h.dial(t, a.Token, a.Room)
	cb := h.dial(t, b.Token, b.Room)
	stats := h.st.WS.Stats().Connections[cb.ID]

	// Every field a client could use to name another room, company, user or
	// connection, in the body of a question.
	body, _ := json.Marshal(map[string]string{
		"action": "sendMessage", "message": qFee, "category1": "", "category2": "",
		"roomId": b.Room, "sessionId": b.Room, "companyId": "book001", "userId": b.UserID,
		"connectionId": cb.ID, "userName": b.UserName, "ragSysInfo": "ALL",
	})
	ca.send(t, string(body))
	got := ca.readAnswer(t)
	if got.SessionID != a.Room {
		t.Fatalf("answer in session %q, want the caller's room %s", got.SessionID, a.Room)
	}
	h.checkAnswered(t, a.Room, qFee, got)
	if turn := h.rag.lastAnswer(t, a.Room); turn.EntryID == "" {
		t.Fatalf("the question was not answered from the caller's company's knowledge base: %+v", turn)
	}
	if turns := h.rag.rag.History(b.Room); len(turns) != 0 {
		t.Fatalf("the RAG service was asked in the other room's session: %+v", turns)
	}
	if msgs := h.history(t, b.Room); len(msgs) != 0 {
		t.Fatalf("the other room's history holds %d items", len(msgs))
	}
	if now := h.st.WS.Stats().Connections[cb.ID]; now.Posts != stats.Posts || cb.typedFrames() != 0 {
		t.Fatalf("the other room's socket was posted to (%d posts, %d frames)", now.Posts-stats.Posts, cb.typedFrames())
	}
	onlyTyped(t, ca, cb)
}

// loginOutcome is one login attempt's status and error body.
type loginOutcome struct {
	Status     int
	Body       string
	RetryAfter string
}

func (hr *harness) attempt(t testing.TB, client *http.Client, companyID, id, password string) loginOutcome {
	t.Helper()
	r := hr.tryLoginFrom(t, client, companyID, id, password)
	return loginOutcome{Status: r.Status, Body: string(r.Body), RetryAfter: r.Header.Get("Retry-After")}
}

// loginAttempts is a LoginAttempts item.
type loginAttempts struct {
	Failures    int64 `dynamodbav:"failures"`
	WindowStart int64 `dynamodbav:"windowStart"`
}

// loginRecord reads the LoginAttempts item of user u.
func (hr *harness) loginRecord(t testing.TB, u user) loginAttempts {
	t.Helper()
	var item loginAttempts
	hr.getItem(t, hr.st.Tables.LoginAttempts, "attemptKey", "u#"+u.CompanyID+"#"+u.UserID, &item)
	return item
}

// Each test of the login lock logs in from a source address of its own:
// the per-source budget (30 failures in 15 minutes) is shared by the
// whole suite's 127.0.0.1 otherwise.

func TestSecurity_LoginIsThrottledAfterFiveFailuresForKnownAndUnknownUsersAlike(t *testing.T) {
	_, client := source(t)
	known := h.newUser(t, "apt001")
	unknown := user{CompanyID: "apt001", UserID: "nobody-" + randHex(4)}
	wrong := "wrong-" + randHex(8)
	h.secrets.add("wrong password", wrong)

	var first401, throttled [2]loginOutcome
	for i, u := range []user{known, unknown} {
		for n := 1; n <= 5; n++ {
			o := h.attempt(t, client, u.CompanyID, u.UserID, wrong)
			if o.Status != http.StatusUnauthorized {
				t.Fatalf("%s attempt %d: %d %s, want 401", u.UserID, n, o.Status, o.Body)
			}
			first401[i] = o
		}
		// Locked now, even for the right password, until the window that
		// the first failure opened closes.
		o := h.attempt(t, client, u.CompanyID, u.UserID, h.password)
		retry, _ := strconv.Atoi(o.RetryAfter)
		if o.Status != http.StatusTooManyRequests || retry < 840 || retry > 900 {
			t.Fatalf("%s after 5 failures: %d %s (Retry-After %q), want 429 with Retry-After near 900", u.UserID, o.Status, o.Body, o.RetryAfter)
		}
		var e apiError
		must(t, json.Unmarshal([]byte(o.Body), &e))
		if e.Code != "LOGIN_THROTTLED" {
			t.Fatalf("429 body %s", o.Body)
		}
		o.RetryAfter = "" // counts down
		throttled[i] = o

		item := h.loginRecord(t, u)
		until := time.UnixMilli(item.WindowStart).Add(15 * time.Minute)
		if item.Failures != 5 || until.Before(time.Now().Add(14*time.Minute)) || until.After(time.Now().Add(15*time.Minute)) {
			t.Fatalf("%s LoginAttempts = %+v (window ends %s), want 5 failures in a 15 min window", u.UserID, item, until)
		}
	}
	if first401[0].Body != first401[1].Body || throttled[0].Body != throttled[1].Body {
		t.Fatalf("known and unknown users are told apart:\n401 %s vs %s\n429 %s vs %s",
			first401[0].Body, first401[1].Body, throttled[0].Body, throttled[1].Body)
	}
	// Another user of the company is not affected.
	other := h.newUser(t, "apt001")
	if o := h.attempt(t, client, other.CompanyID, other.UserID, h.password); o.Status != http.StatusOK {
		t.Fatalf("another user: %d %s", o.Status, o.Body)
	}
}

func TestSecurity_ParallelGuessesGetAtMostFiveCheckedAcrossExecutionEnvironments(t *testing.T) {
	_, client := source(t)
	u := h.newUser(t, "apt001")
	wrong := "wrong-" + randHex(8)
	h.secrets.add("wrong password", wrong)

	// A burst of guesses, served by several login environments at once.
	burst := func(n int, password string) []loginOutcome {
		out := make([]loginOutcome, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range out {
			wg.Go(func() {
				<-start
				out[i] = h.attempt(t, client, u.CompanyID, u.UserID, password)
			})
		}
		close(start)
		wg.Wait()
		return out
	}
	failures, throttled := 0, 0
	for _, o := range burst(30, wrong) {
		switch o.Status {
		case http.StatusUnauthorized:
			failures++
		case http.StatusTooManyRequests:
			throttled++
		default:
			t.Fatalf("failed login: %d %s", o.Status, o.Body)
		}
	}
	if failures > 5 || failures+throttled != 30 {
		t.Fatalf("30 parallel wrong passwords: %d answered 401, %d 429; want at most 5 401 and the rest 429", failures, throttled)
	}
	servedBy := h.out.environments(`"userId":"`+u.UserID+`"`, "login refused")
	maps.Copy(servedBy, h.out.environments(`"userId":"`+u.UserID+`"`, "login throttled"))
	if len(servedBy) < 2 {
		t.Fatalf("the burst was served by %v; want several environments", servedBy)
	}
	if item := h.loginRecord(t, u); item.Failures != int64(failures) {
		t.Fatalf("%d failures answered 401; LoginAttempts = %+v: want every failure counted", failures, item)
	}

	// Every environment now refuses even the right password. Bursts repeat
	// until the 429s came from more than one environment.
	for round := 0; ; round++ {
		for _, o := range burst(6, h.password) {
			if o.Status != http.StatusTooManyRequests {
				t.Fatalf("right password after the lock: %d %s, want 429", o.Status, o.Body)
			}
		}
		envs := h.out.environments(`"userId":"`+u.UserID+`"`, "login throttled")
		if len(envs) >= 2 {
			t.Logf("%d failures, %d throttled; throttled by %v", failures, throttled, envs)
			break
		}
		if round == 10 {
			t.Fatalf("the throttled logins were all served by %v", envs)
		}
	}
}

func TestSecurity_ASourceThatSpraysUsersIsThrottled(t *testing.T) {
	ip, client := source(t)
	wrong := "wrong-" + randHex(8)
	h.secrets.add("wrong password", wrong)
	for i := range 30 {
		if o := h.attempt(t, client, "apt001", fmt.Sprintf("spray%d-%s", i, randHex(3)), wrong); o.Status != http.StatusUnauthorized {
			t.Fatalf("guess %d from %s: %d %s, want 401", i+1, ip, o.Status, o.Body)
		}
	}
	// The 31st user, existing and with the right password, is refused.
	u := h.newUser(t, "apt001")
	o := h.attempt(t, client, u.CompanyID, u.UserID, h.password)
	if o.Status != http.StatusTooManyRequests || !strings.Contains(o.Body, "LOGIN_THROTTLED") || o.RetryAfter == "" {
		t.Fatalf("31st user from %s: %d %s (Retry-After %q), want 429 LOGIN_THROTTLED", ip, o.Status, o.Body, o.RetryAfter)
	}
	// From another address the same user logs in.
	_, other := source(t)
	if o := h.attempt(t, other, u.CompanyID, u.UserID, h.password); o.Status != http.StatusOK {
		t.Fatalf("the user from another address: %d %s", o.Status, o.Body)
	}
}
