package apigw

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/aws/aws-lambda-go/events"

	"github.com/ragchat/ragchat/shared/auth"
	"github.com/ragchat/ragchat/shared/store"
)

// Refusals of a Guard.
var (
	errNoToken      = NewError(http.StatusUnauthorized, CodeUnauthorized, "missing bearer token")
	ErrInvalidToken = NewError(http.StatusUnauthorized, CodeUnauthorized, "invalid or expired token")
	// errWrongRole answers a valid token of the other role: a customer's
	// token on an agent route, an agent's on a customer route.
	errWrongRole = NewError(http.StatusForbidden, CodeForbidden, "this route is not for your role")
)

// httpAuthError is HTTPError with the WWW-Authenticate header RFC 6750
// asks of a 401 from a Guard.
func httpAuthError(err error) events.APIGatewayV2HTTPResponse {
	resp := HTTPError(err)
	switch {
	case errors.Is(err, errNoToken):
		resp.Headers["WWW-Authenticate"] = `Bearer`
	case errors.Is(err, ErrInvalidToken):
		resp.Headers["WWW-Authenticate"] = `Bearer error="invalid_token"`
	}
	return resp
}

// UserReader reads a user. *store.Store implements it.
type UserReader interface {
	GetUser(ctx context.Context, companyID, userID string) (store.User, error)
}

// Current refuses with ErrInvalidToken a verified identity whose token is
// no longer current: its version is not the user's (the password changed
// since it was issued: every change revokes the earlier tokens) or the
// user is gone. It costs one GetItem on Users; a failed read is returned
// as is (a 500, never a silent accept).
func Current(ctx context.Context, users UserReader, id auth.Identity) error {
	u, err := users.GetUser(ctx, id.CompanyID, id.UserID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return ErrInvalidToken
	case err != nil:
		return fmt.Errorf("token version of %s/%s: %w", id.CompanyID, id.UserID, err)
	case u.TokenVersion != id.Version || u.Role != id.Role:
		return ErrInvalidToken
	}
	return nil
}
