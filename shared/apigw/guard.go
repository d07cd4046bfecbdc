package apigw

import (
	"context"
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
	Log    *slog.Logger // a refusal is logged at Info as "token refused"
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
		g.Log.Info("token refused", "err", err)
		return auth.Identity{}, err
	}
	return id, nil
}
