package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ragchat/ragchat/local/stack"
	"github.com/ragchat/ragchat/shared/auth"
	"github.com/ragchat/ragchat/shared/store"
)

// The signing key's rotation, as the README's "Rotating the token key"
// does it, through real processes. The shared stack signs with its key;
// step 1 puts {"current": new, "previous": old} in the secret and restarts
// the functions (here: a stack of the new value on the same tables); step
// 2, one token lifetime later, leaves the new key alone (and restarts).

// rotatedStack starts a stack whose functions read tokenSecret (the
// value of the secret, either form) on the shared stack's DynamoDB: the
// same users and rooms, as a deployed stack after its functions restart.
func (hr *harness) rotatedStack(t *testing.T, name, tokenSecret string) *harness {
	t.Helper()
	opts := hr.opts
	opts.BuildDir = filepath.Join(hr.tmp, "build-"+name)
	opts.DynamoEndpoint = hr.st.URLs.DynamoDB
	opts.TokenSecret = tokenSecret
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	st, err := stack.Start(ctx, opts)
	if err != nil {
		t.Fatalf("start the %s stack: %v", name, err)
	}
	t.Cleanup(st.Close)
	return hr.withStack(st)
}

// kid is the key id in a token's header.
func kid(t *testing.T, token string) string {
	t.Helper()
	head, _, _ := strings.Cut(token, ".")
	raw, err := base64.RawURLEncoding.DecodeString(head)
	must(t, err)
	var h struct {
		Kid string `json:"kid"`
	}
	must(t, json.Unmarshal(raw, &h))
	return h.Kid
}

// accepted checks that token creates a room over HTTP and opens a socket
// to it that is answered (what names the case in the log).
func (hr *harness) accepted(t *testing.T, what, token string) {
	t.Helper()
	t.Log(what)
	room := hr.newRoom(t, token).RoomID
	c := hr.dial(t, token, room)
	hr.checkAnswered(t, room, qFee, c.ask(t, qFee))
	c.close()
}

// refused checks that token gets 401 at room creation and at $connect.
func (hr *harness) refused(t *testing.T, what, token, room string) {
	t.Helper()
	if r := hr.do(t, http.MethodPost, "/api/customer/chatbot", map[string]string{"Authorization": "Bearer " + token}, ""); r.Status != http.StatusUnauthorized {
		t.Fatalf("%s: room creation %d %s, want 401", what, r.Status, r.Body)
	}
	if status, e := hr.refusal(t, "token="+url.QueryEscape(token)+"&roomId="+room); status != http.StatusUnauthorized {
		t.Fatalf("%s: $connect %d %+v, want 401", what, status, e)
	}
}

func TestLimits_RotatingTheSigningKeyAcceptsTokensOfBothKeysWithinTheWindow(t *testing.T) {
	oldKey := h.tokenSecret
	newKey := "e2e-rotated-key-" + randHex(24)
	otherKey := "e2e-other-key-" + randHex(24)
	h.secrets.add("rotated TOKEN_SECRET", newKey)
	h.secrets.add("unrelated signing key", otherKey)

	u := h.newUser(t, "apt001")
	oldToken := h.login(t, u)
	room := h.newRoom(t, oldToken).RoomID
	foreign, err := auth.NewTokens([]byte(otherKey), time.Hour).Issue(auth.Identity{
		UserID: u.UserID, CompanyID: u.CompanyID, Role: store.UserRoleCustomer, Name: u.UserName,
	}, time.Now())
	must(t, err)
	h.secrets.addToken("token of an unrelated key", foreign)

	// Step 1: the new key signs, the old one still verifies.
	during := h.rotatedStack(t, "rotation", `{"current":"`+newKey+`","previous":"`+oldKey+`"}`)
	newToken := during.login(t, u)
	if got, want := kid(t, newToken), auth.KeyID([]byte(newKey)); got != want {
		t.Fatalf("a login during the rotation signs with kid %q, want the new key's %q", got, want)
	}
	if got, want := kid(t, oldToken), auth.KeyID([]byte(oldKey)); got != want {
		t.Fatalf("the token before the rotation has kid %q, want the old key's %q", got, want)
	}
	during.accepted(t, "a token of the previous key during the rotation", oldToken)
	during.accepted(t, "a token of the current key during the rotation", newToken)
	during.refused(t, "a token of neither key during the rotation", foreign, room)
	during.st.Close()

	// Step 2: one token lifetime later the old key goes.
	after := h.rotatedStack(t, "rotated", newKey)
	after.accepted(t, "a token of the current key after the rotation", newToken)
	after.refused(t, "a token of the previous key after the rotation", oldToken, room)
	after.refused(t, "a token of neither key after the rotation", foreign, room)
}
