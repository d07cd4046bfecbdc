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

// Admit returns the identity of req's caller as of now, or the refusal:
// ErrNoToken, ErrInvalidToken (a revoked token included), ErrWrongRole,
// or the failed user read (a 500).
func (g Guard) Admit(ctx context.Context, req events.APIGatewayV2HTTPRequest, now time.Time) (auth.Identity, error) {
	id, err := Authenticate(req, g.Tokens, now, g.Role)
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

// Serve answers req on a route of the Guard's role: the caller is
// admitted (Admit), then serve answers for the caller's identity. A
// refusal or serve's error is the response HTTPAuthError makes of it. It
// never returns an error: failures are responses.
func (g Guard) Serve(ctx context.Context, req events.APIGatewayV2HTTPRequest, now time.Time,
	serve func(id auth.Identity) (events.APIGatewayV2HTTPResponse, error)) (events.APIGatewayV2HTTPResponse, error) {
	id, err := g.Admit(ctx, req, now)
	var resp events.APIGatewayV2HTTPResponse
	if err == nil {
		resp, err = serve(id)
	}
	if err != nil {
		return HTTPAuthError(err), nil
	}
	return resp, nil
}
