package handler

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ragchat/ragchat/internal/testkit"
	"github.com/ragchat/ragchat/internal/wsclient"
	"github.com/ragchat/ragchat/local/dynamo"
	"github.com/ragchat/ragchat/shared/relay"
	"github.com/ragchat/ragchat/shared/store"
)

// Revoked sockets (revoke.go): a password change bumps the user's token
// version; a socket connected with an earlier one may ask nothing more.

// putUser stores the trace's user with token version ver.
func (e *env) putUser(ver int64) {
	e.t.Helper()
	if err := e.store.PutUser(context.Background(), store.User{
		CompanyID: traceCompany, UserID: "hong2", UserName: traceUserName, Role: store.UserRoleCustomer,
		PasswordHash: "x", CreatedAt: time.Now().UnixMilli(), TokenVersion: ver,
	}); err != nil {
		e.t.Fatal(err)
	}
}

// connectWithVersion replaces the caller's connection by one that
// $connect stored with a token of version ver.
func (e *env) connectWithVersion(ver int64) {
	e.t.Helper()
	e.connectSocket(callerID, ver)
}

// connectSocket stores connection id of the trace's user in the trace's
// room as $connect does with a token of version ver.
func (e *env) connectSocket(id string, ver int64) {
	e.t.Helper()
	now := time.Now()
	if err := e.store.PutConnection(context.Background(), store.Connection{
		ConnectionID: id, RoomID: traceRoom, UserID: "hong2", UserName: traceUserName, CompanyID: traceCompany,
		Role: store.UserRoleCustomer, ConnectedAt: now.UnixMilli(), ExpiresAt: now.Add(time.Hour).Unix(), TokenVersion: &ver,
	}); err != nil {
		e.t.Fatal(err)
	}
}

// refusedUnasked checks that the caller's one answer is the refusal code
// of its question and that nothing was asked or stored.
func (e *env) refusedUnasked(code, clientMessageID string) {
	e.t.Helper()
	a := e.only(callerID)
	if a.Terminal.Type != relay.TypeError || a.Terminal.Code != code || a.Terminal.Message == "" ||
		a.Terminal.SessionID != traceRoom || a.ClientMessageID != clientMessageID {
		e.t.Fatalf("ending %s %s %q (client %q), want %s for %q", a.Terminal.Type, a.Terminal.Code, a.Terminal.Message, a.ClientMessageID, code, clientMessageID)
	}
	if n := len(e.rag.bodies()); n != 0 {
		e.t.Fatalf("the RAG service was asked %d times", n)
	}
	if h := e.history(); len(h) != 0 {
		e.t.Fatalf("history holds %d messages, want none", len(h))
	}
	if room := e.room(); room.LastActivityAt > time.Now().UnixMilli()-30_000 {
		e.t.Fatalf("the room's activity was written: %d", room.LastActivityAt)
	}
}

func TestRevoke_QuestionOnASocketOlderThanAPasswordChangeGetsTokenExpiredBeforeAnythingIsStoredOrAsked(t *testing.T) {
	e := newEnv(t, ragTrace)
	e.putUser(2) // changed since the socket's token (version 1) was issued
	e.connectWithVersion(1)
	e.handle(context.Background(), event(RouteSendMessage, askWithID(traceQuestion, "c-revoked")))
	e.refusedUnasked(CodeTokenExpired, "c-revoked")

	// The socket's connection has expired: its next question is refused
	// from the connection alone (no token of the user's bucket, no read of
	// the user), and a current socket's answer no longer reaches it.
	c := testkit.NewCounter(t, e.tables)
	e.handle(context.Background(), event(RouteSendMessage, ask(traceQuestion)))
	if trs := e.transcripts(callerID); len(trs) != 2 || trs[1].Terminal.Code != CodeTokenExpired {
		t.Fatalf("the revoked socket's second question: %d answers, want a second TOKEN_EXPIRED", len(trs))
	}
	if n := c.Counts().Total(); n != 1 {
		t.Fatalf("the second question cost %d requests (%v), want the connection's GetItem only", n, c.Counts())
	}
	e.connectSocket("peer", 2)
	e.ws.Open("peer")
	before := len(e.ws.Frames(callerID))
	e.handle(context.Background(), eventFrom("peer", RouteSendMessage, ask(traceQuestion)))
	if a := e.only("peer"); a.Terminal.Type != relay.TypeComplete || a.Text != traceAnswer {
		t.Fatalf("the current socket's question ended %s %s, want the answer", a.Terminal.Type, a.Terminal.Code)
	}
	if n := len(e.ws.Frames(callerID)) - before; n != 0 {
		t.Fatalf("the revoked socket got %d frames of the current socket's answer", n)
	}

	// Nor was a repeat record claimed: the same clientMessageId on a
	// current socket is a new question, answered.
	e.connectWithVersion(2)
	e.handle(context.Background(), event(RouteSendMessage, askWithID(traceQuestion, "c-revoked")))
	trs := e.transcripts(callerID)
	if len(trs) != 3 || trs[2].Terminal.Type != relay.TypeComplete || trs[2].Text != traceAnswer || len(e.rag.bodies()) != 2 {
		t.Fatalf("the question on a current socket: %d answers, last ended %s %s", len(trs), trs[len(trs)-1].Terminal.Type, trs[len(trs)-1].Terminal.Code)
	}
}

// A socket opened before a password reset that never asks anything gets
// none of the room's frames once a current socket of its user asks (a
// stolen token's socket stops reading the conversation at the reset), nor
// the user's messages while an agent holds the room; its connection is
// expired. Another current socket of the user gets everything.
func TestRevoke_ASocketOlderThanAPasswordChangeGetsNoneOfTheRoomsFrames(t *testing.T) {
	for _, tt := range []struct {
		name    string
		waiting bool
	}{{"an answer", false}, {"a message while the room waits for an agent", true}} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, ragTrace)
			e.putUser(2)
			e.connectWithVersion(2)
			e.connectSocket("stolen", 1)
			e.connectSocket("phone", 2)
			e.ws.Open("stolen")
			e.ws.Open("phone")
			if tt.waiting {
				if _, _, err := e.store.RequestHandoff(context.Background(), traceCompany, traceRoom, time.Now().UnixMilli()); err != nil {
					t.Fatal(err)
				}
			}
			e.h.JoinInterval = 10 * time.Millisecond // the lookups mid-answer see it too
			e.handle(context.Background(), event(RouteSendMessage, ask(traceQuestion)))
			if n := len(e.ws.Frames("phone")); n == 0 {
				t.Fatal("the user's current second socket got nothing")
			}
			if !tt.waiting {
				if a := e.only(callerID); a.Terminal.Type != relay.TypeComplete || a.Text != traceAnswer {
					t.Fatalf("the asker's answer ended %s %s", a.Terminal.Type, a.Terminal.Code)
				}
			}
			if n := len(e.ws.Frames("stolen")); n != 0 {
				t.Fatalf("the revoked socket got %d frames: %q", n, e.ws.Frames("stolen"))
			}
			// GetConnection does not return an expired connection.
			if c, err := e.store.GetConnection(context.Background(), "stolen"); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("the revoked socket's connection: %+v, %v; want it expired", c, err)
			}
		})
	}
}

// connectAgent stores agent user agent1 with token version userVer and a
// socket id of it in the trace's room connected with version ver.
func (e *env) connectAgent(id string, userVer, ver int64) {
	e.t.Helper()
	ctx, now := context.Background(), time.Now()
	if err := e.store.PutUser(ctx, store.User{
		CompanyID: traceCompany, UserID: "agent1", UserName: "상담원-1", Role: store.UserRoleAgent,
		PasswordHash: "x", CreatedAt: now.UnixMilli(), TokenVersion: userVer,
	}); err != nil {
		e.t.Fatal(err)
	}
	if err := e.store.PutConnection(ctx, store.Connection{
		ConnectionID: id, RoomID: traceRoom, UserID: "agent1", UserName: "상담원-1", CompanyID: traceCompany,
		Role: store.UserRoleAgent, ConnectedAt: now.UnixMilli(), ExpiresAt: now.Add(time.Hour).Unix(), TokenVersion: &ver,
	}); err != nil {
		e.t.Fatal(err)
	}
	e.ws.Open(id)
}

// Another user's password reset revokes their sockets for the room's
// frames too: the customer's stolen-token socket gets none of the agent's
// messages, nor the agent's old socket the customer's, nor either the
// status frames of a handoff; both connections are expired. The writer's
// own user is known current (no request); the other user of the room is
// read once per turn (one GetItem on Users).
func TestRevoke_SocketsOfAnotherUserOlderThanTheirPasswordChangeGetNothing(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, ragTrace)
	e.putUser(2)
	e.connectWithVersion(2)
	e.connectSocket("stolen", 1)
	e.ws.Open("stolen")
	e.connectAgent(agentID, 3, 3)
	e.connectAgent("agent-old-laptop", 3, 2)

	// The customer's handoff: its status frame skips both revoked sockets.
	e.handle(ctx, event(RouteHandoff, `{"action":"handoff"}`))
	for id, want := range map[string]int{callerID: 1, agentID: 1, "stolen": 0, "agent-old-laptop": 0} {
		if st := e.framesOf(id, wsclient.TypeStatus); len(st) != want {
			t.Fatalf("%s got %d status frames of the handoff, want %d", id, len(st), want)
		}
	}
	if _, _, err := e.store.ClaimRoom(ctx, traceCompany, traceRoom, store.Agent{UserID: "agent1", Name: "상담원-1"}, time.Now().UnixMilli()); err != nil {
		t.Fatal(err)
	}

	c := testkit.NewCounter(t, e.tables)
	e.handle(ctx, eventFrom(agentID, RouteSendMessage, ask("안녕하세요, 상담원입니다.")))
	if got := c.Counts()[dynamo.Call{Operation: "GetItem", Table: e.tables.Users}]; got != 2 {
		t.Fatalf("the agent's message read Users %d times (%v), want 2: the agent's token, the customer's version", got, c.Counts())
	}
	e.handle(ctx, event(RouteSendMessage, ask("환불은 언제 되나요?")))
	if m := e.framesOf(callerID, wsclient.TypeMessage); len(m) != 1 || m[0].Role != store.RoleAgent {
		t.Fatalf("the customer's current socket got the messages %+v, want the agent's", m)
	}
	if m := e.framesOf(agentID, wsclient.TypeMessage); len(m) != 1 || m[0].Role != store.RoleUser {
		t.Fatalf("the agent's current socket got the messages %+v, want the customer's", m)
	}
	for _, id := range []string{"stolen", "agent-old-laptop"} {
		if n := len(e.ws.Frames(id)); n != 0 {
			t.Errorf("the revoked socket %s got %d frames: %q", id, n, e.ws.Frames(id))
		}
		if c, err := e.store.GetConnection(ctx, id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the revoked socket %s's connection: %+v, %v; want it expired", id, c, err)
		}
	}
}

func TestRevoke_QuestionOfAUserGoneOrOfAnotherRoleGetsTokenExpired(t *testing.T) {
	for _, tt := range []struct {
		name string
		user func(e *env)
	}{
		{"user deleted", func(*env) {}},
		{"now an agent", func(e *env) {
			e.putUser(1)
			u, err := e.store.GetUser(context.Background(), traceCompany, "hong2")
			if err != nil {
				e.t.Fatal(err)
			}
			u.Role = store.UserRoleAgent
			if err := e.store.PutUser(context.Background(), u); err != nil {
				e.t.Fatal(err)
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, ragTrace)
			tt.user(e)
			e.connectWithVersion(1)
			e.handle(context.Background(), event(RouteSendMessage, ask(traceQuestion)))
			e.refusedUnasked(CodeTokenExpired, "")
		})
	}
}

func TestRevoke_CurrentSocketAndOldConnectionItemWithoutAVersionAreAnswered(t *testing.T) {
	for _, tt := range []struct {
		name      string
		connect   func(e *env)
		userReads int
	}{
		{"socket of the current version", func(e *env) { e.connectWithVersion(3) }, 1},
		{"socket of version 0 (never changed)", func(e *env) { e.putUser(0); e.connectWithVersion(0) }, 1},
		// Stored before connections carried the version: not checked, as
		// before, even though the user's version moved on.
		{"connection item without a version", func(e *env) {}, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, ragTrace)
			e.putUser(3)
			tt.connect(e)
			c := testkit.NewCounter(t, e.tables)
			e.handle(context.Background(), event(RouteSendMessage, ask(traceQuestion)))
			if a := e.only(callerID); a.Terminal.Type != relay.TypeComplete || a.Text != traceAnswer {
				t.Fatalf("ending %s %s, want the answer", a.Terminal.Code, a.Terminal.Message)
			}
			reads := 0
			for call, n := range c.Counts() {
				if call.Table == e.tables.Users {
					if call.Operation != "GetItem" {
						t.Errorf("%s on Users", call.Operation)
					}
					reads += n
				}
			}
			if reads != tt.userReads {
				t.Errorf("%d requests on Users, want %d", reads, tt.userReads)
			}
		})
	}
}

// failingUsers fails every read of a user.
type failingUsers struct{}

func (failingUsers) GetUser(context.Context, string, string) (store.User, error) {
	return store.User{}, errors.New("ProvisionedThroughputExceededException")
}

func TestRevoke_UnreadableTokenVersionFailsClosed(t *testing.T) {
	e := newEnv(t, ragTrace)
	e.h.Users = failingUsers{}
	e.connectWithVersion(1)
	e.handle(context.Background(), event(RouteSendMessage, ask(traceQuestion)))
	e.refusedUnasked(CodeInternal, "")
}

// meetingUsers and meetingLimiter each wait, in their request, for the
// other's to have started: they both return only when the version read
// and the question token's write are in flight at once.
type meeting struct {
	users, token chan struct{}
}

type meetingUsers struct {
	*store.Store
	m meeting
}

func (u meetingUsers) GetUser(ctx context.Context, companyID, userID string) (store.User, error) {
	close(u.m.users)
	if err := await(ctx, u.m.token); err != nil {
		return store.User{}, err
	}
	return u.Store.GetUser(ctx, companyID, userID)
}

type meetingLimiter struct {
	*store.Store
	m meeting
}

func (l meetingLimiter) TakeQuestionToken(ctx context.Context, companyID, userID string, b store.Bucket, now time.Time) (bool, time.Time, error) {
	close(l.m.token)
	if err := await(ctx, l.m.users); err != nil {
		return false, time.Time{}, err
	}
	return l.Store.TakeQuestionToken(ctx, companyID, userID, b, now)
}

// await waits for ch to close, at most 10 seconds: a deadlock is a
// failure, not a hang.
func await(ctx context.Context, ch <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return errors.New("the other request never started: the version read and the question token are not concurrent")
	}
}

func TestRevoke_VersionReadRunsWithTheQuestionToken(t *testing.T) {
	e := newEnv(t, ragTrace)
	e.putUser(1)
	e.connectWithVersion(1)
	m := meeting{users: make(chan struct{}), token: make(chan struct{})}
	e.h.Users = meetingUsers{e.store, m}
	e.h.Limits.Store = meetingLimiter{e.store, m}
	e.handle(context.Background(), event(RouteSendMessage, ask(traceQuestion)))
	if a := e.only(callerID); a.Terminal.Type != relay.TypeComplete {
		t.Fatalf("ending %s %s, want the answer: the two requests did not run at once", a.Terminal.Code, a.Terminal.Message)
	}
}

func TestRevoke_HandoffFromASocketOlderThanAPasswordChangeGetsTokenExpiredAndLeavesTheRoom(t *testing.T) {
	e := newEnv(t, ragTrace)
	e.putUser(2)
	e.connectWithVersion(1)
	e.handle(context.Background(), event(RouteHandoff, handoffBody("상담원 연결")))
	if code := e.lastError(callerID); code != CodeTokenExpired {
		t.Fatalf("handoff from a revoked socket: %s, want TOKEN_EXPIRED", code)
	}
	if room := e.room(); room.Status != store.RoomStatusBot || len(e.history()) != 0 {
		t.Fatalf("the room after a revoked handoff: %s, %d messages; want BOT and none", room.Status, len(e.history()))
	}
}
