package apigw

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/ragchat/ragchat/shared/auth"
)

// Guard admits the callers of the HTTP routes of one role: a bearer token
// that Tokens verifies, of role Role, still current for Users (Current).
type Guard struct {
	Tokens *auth.Tokens
	Users  UserReader
	Role   string
	// Log receives a refusal at Info as "token refused", a failed user
	// read at Error.
	Log *slog.Logger
}

// admit returns the identity of req's caller as of now, or the refusal:
// errNoToken, ErrInvalidToken (a revoked token included), errWrongRole,
// or the failed user read (a 500).
func (g Guard) admit(ctx context.Context, req events.APIGatewayV2HTTPRequest, now time.Time) (auth.Identity, error) {
	id, err := g.verify(req, now)
	if err == nil {
		err = Current(ctx, g.Users, id)
	}
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			g.Log.Info("token refused", "err", err)
		} else {
			g.Log.Error("token version check failed", "err", err)
		}
		return auth.Identity{}, err
	}
	return id, nil
}

// verify returns the identity of req's bearer token (header
// Authorization: Bearer <JWT>) verified as of now, when its role is the
// Guard's. It refuses with errNoToken or ErrInvalidToken (401) and
// errWrongRole (403); the cause of an invalid token is never shown.
func (g Guard) verify(req events.APIGatewayV2HTTPRequest, now time.Time) (auth.Identity, error) {
	token, ok := auth.BearerToken(Header(req.Headers, "Authorization"))
	if !ok {
		return auth.Identity{}, errNoToken
	}
	id, err := g.Tokens.Verify(token, now)
	if err != nil {
		return auth.Identity{}, ErrInvalidToken
	}
	if id.Role != g.Role {
		return auth.Identity{}, errWrongRole
	}
	return id, nil
}

// Serve answers req on a route of the Guard's role: the caller is
// admitted (admit), then serve answers for the caller's identity. A
// refusal or serve's error is the response httpAuthError makes of it. It
// never returns an error: failures are responses.
func (g Guard) Serve(ctx context.Context, req events.APIGatewayV2HTTPRequest, now time.Time,
	serve func(id auth.Identity) (events.APIGatewayV2HTTPResponse, error)) (events.APIGatewayV2HTTPResponse, error) {
	id, err := g.admit(ctx, req, now)
	var resp events.APIGatewayV2HTTPResponse
	if err == nil {
		resp, err = serve(id)
	}
	if err != nil {
		return httpAuthError(err), nil
	}
	return resp, nil
}
