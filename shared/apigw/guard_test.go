package apigw

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/ragchat/ragchat/shared/auth"
	"github.com/ragchat/ragchat/shared/store"
)

// users is a UserReader over a map; err, when set, fails every read.
type users struct {
	byID map[string]store.User
	err  error
}

func (u users) GetUser(_ context.Context, companyID, userID string) (store.User, error) {
	if u.err != nil {
		return store.User{}, u.err
	}
	if v, ok := u.byID[companyID+"/"+userID]; ok {
		return v, nil
	}
	return store.User{}, store.ErrNotFound
}

func TestGuard_ServeAnswersOnlyACurrentTokenOfItsRoleAndLogsAFailedReadAsAnError(t *testing.T) {
	now := time.Now()
	tokens := auth.NewTokens([]byte("guard-test-secret-guard-test-secret!"), time.Hour)
	customer := auth.Identity{UserID: "hong2", CompanyID: "apt001", Role: store.UserRoleCustomer, Name: "고객-275b", Version: 1}
	bearer := func(id auth.Identity) string {
		s, err := tokens.Issue(id, now)
		if err != nil {
			t.Fatal(err)
		}
		return "Bearer " + s
	}
	current := users{byID: map[string]store.User{"apt001/hong2": {CompanyID: "apt001", UserID: "hong2", Role: store.UserRoleCustomer, TokenVersion: 1}}}
	stale := customer
	stale.Version = 0
	agent := customer
	agent.Role = store.UserRoleAgent
	for _, c := range []struct {
		name          string
		authorization string
		users         users
		serveErr      error
		status        int
		challenge     string
		logged        string // what the log must hold
	}{
		{"a current token", bearer(customer), current, nil, http.StatusOK, "", ""},
		{"a current token, serve refuses", bearer(customer), current, BadRequest("no"), http.StatusBadRequest, "", ""},
		{"no token", "", current, nil, http.StatusUnauthorized, "Bearer", `"level":"INFO","msg":"token refused"`},
		{"a token older than the user's version", bearer(stale), current, nil, http.StatusUnauthorized, `Bearer error="invalid_token"`, `"msg":"token refused"`},
		{"a token of the other role", bearer(agent), current, nil, http.StatusForbidden, "", `"msg":"token refused"`},
		{"the user read fails", bearer(customer), users{err: errors.New("throttled")}, nil, http.StatusInternalServerError, "", `"level":"ERROR","msg":"token version check failed"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			var logs bytes.Buffer
			g := Guard{Tokens: tokens, Users: c.users, Role: store.UserRoleCustomer, Log: slog.New(slog.NewJSONHandler(&logs, nil))}
			req := events.APIGatewayV2HTTPRequest{Headers: map[string]string{}}
			if c.authorization != "" {
				req.Headers["authorization"] = c.authorization
			}
			var served []auth.Identity
			resp, err := g.Serve(context.Background(), req, now, func(id auth.Identity) (events.APIGatewayV2HTTPResponse, error) {
				served = append(served, id)
				return HTTPJSON(http.StatusOK, map[string]string{"ok": "yes"}), c.serveErr
			})
			if err != nil || resp.StatusCode != c.status || resp.Headers["WWW-Authenticate"] != c.challenge {
				t.Fatalf("Serve = %d %v %s, %v; want %d with challenge %q", resp.StatusCode, resp.Headers, resp.Body, err, c.status, c.challenge)
			}
			if wantServed := c.status == http.StatusOK || c.serveErr != nil; wantServed != (len(served) == 1) || wantServed && served[0] != customer {
				t.Errorf("served %+v; want the caller served: %v", served, wantServed)
			}
			if !strings.Contains(logs.String(), c.logged) {
				t.Errorf("log %s lacks %s", logs.String(), c.logged)
			}
		})
	}
}
