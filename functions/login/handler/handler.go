// Package handler serves POST /api/customer/{companyId}/login for the LoginFunction Lambda.
package handler

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/ragchat/ragchat/shared/apigw"
	"github.com/ragchat/ragchat/shared/auth"
	"github.com/ragchat/ragchat/shared/metrics"
	"github.com/ragchat/ragchat/shared/store"
)

// maxBodyBytes bounds a login body: credentials are far smaller.
const maxBodyBytes = 4 << 10

// loginStore is what login needs from the store.
type loginStore interface {
	GetUser(ctx context.Context, companyID, userID string) (store.User, error)
	LatestRoom(ctx context.Context, companyID, userID string) (store.Room, error)
	TakeLoginSlot(ctx context.Context, key string, lim store.Window, now time.Time) (store.Slot, error)
	FreeLoginSlot(ctx context.Context, key string) error
	ClearLoginSlots(ctx context.Context, key string) error
}

// Handler serves the customer and the agent login.
type Handler struct {
	store     loginStore
	tokens    *auth.Tokens
	passwords *auth.Passwords
	lockout   Lockout
	log       *slog.Logger
	now       func() time.Time
	// Metrics receives one line per login (metrics.go); nil means standard
	// output in the default namespace.
	Metrics *metrics.Emitter
}

// New returns the login handler enforcing lockout.
func New(s loginStore, tokens *auth.Tokens, passwords *auth.Passwords, lockout Lockout, log *slog.Logger) *Handler {
	return &Handler{store: s, tokens: tokens, passwords: passwords, lockout: lockout, log: log, now: time.Now}
}

// roleOf is the role a login route admits: AGENT on
// /api/agent/{companyId}/login, CUSTOMER on the customer's.
func roleOf(routeKey string) string {
	if strings.Contains(routeKey, "/api/agent/") {
		return store.UserRoleAgent
	}
	return store.UserRoleCustomer
}

// Response is a login's 200 body, as in the trace: all seven keys, in its
// order, roomId null when the user has no room.
type Response struct {
	UserID    string  `json:"userId"`
	UserName  string  `json:"userName"`
	Role      string  `json:"role"`
	Email     string  `json:"email"`
	Token     string  `json:"token"`
	RoomID    *string `json:"roomId"`
	CompanyID string  `json:"companyId"`
}

// credentials of a login, from the JSON body or the query string.
type credentials struct {
	ID       string `json:"id"`
	Password string `json:"password"`
}

var (
	errInvalidCredentials = apigw.NewError(http.StatusUnauthorized, apigw.CodeInvalidCredentials, "invalid id or password")
	errThrottled          = apigw.NewError(http.StatusTooManyRequests, apigw.CodeLoginThrottled,
		"too many failed login attempts; try again later")
)

// Handle answers a login. Unknown users, wrong passwords and users of
// another role than the route's (or of no valid role) get the same 401
// after the same work (a bcrypt comparison); an attempt that finds its
// user's or its source IP's failure window full (Lockout) gets 429 with
// Retry-After before any password is checked, whether or not the user
// exists. Malformed input gets 400, an oversized body 413. It never
// returns an error: failures are responses.
func (h *Handler) Handle(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	resp, err := h.login(ctx, req)
	if err != nil {
		resp = apigw.HTTPError(err)
	}
	h.loginMetrics(resp.StatusCode)
	return resp, nil
}

func (h *Handler) login(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	companyID := req.PathParameters["companyId"]
	if !store.ValidCompanyID(companyID) {
		return events.APIGatewayV2HTTPResponse{}, apigw.BadRequest("invalid company id")
	}
	creds, err := readCredentials(req)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	log := h.log.With("companyId", companyID, "userId", creds.ID)
	now := h.now()
	sl := slots{user: store.LoginUserKey(companyID, creds.ID), source: sourceKey(req.RequestContext.HTTP.SourceIP)}
	ok, resetAt, err := h.take(ctx, log, sl, now)
	switch {
	case err != nil:
		log.Error("login lock failed", "err", err)
		return events.APIGatewayV2HTTPResponse{}, err
	case !ok:
		log.Warn("login throttled", "sourceIp", req.RequestContext.HTTP.SourceIP)
		return events.APIGatewayV2HTTPResponse{}, apigw.RetryLater{Err: errThrottled, After: resetAt.Sub(now)}
	}

	user, err := h.store.GetUser(ctx, companyID, creds.ID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		log.Error("get user failed", "err", err)
		h.give(ctx, log, sl, true, sl.source != "", false)
		return events.APIGatewayV2HTTPResponse{}, err
	}
	// user.PasswordHash is empty for an unknown user: Check then compares
	// against a dummy hash, taking the same time. The slots stay taken: they
	// are the failure's record.
	want := roleOf(req.RouteKey)
	if !h.passwords.Check(user.PasswordHash, creds.Password) || user.Role != want {
		if user.PasswordHash != "" && user.Role != want && !store.ValidRole(user.Role) {
			log.Error("user has no valid role; refused", "role", user.Role)
		}
		log.Info("login refused", "role", want)
		return events.APIGatewayV2HTTPResponse{}, errInvalidCredentials
	}

	// Give the slots back while the latest room is looked up.
	gave := make(chan struct{})
	go func() {
		defer close(gave)
		h.give(ctx, log, sl, true, sl.source != "", true)
	}()
	defer func() { <-gave }()
	var roomID *string
	switch room, err := h.store.LatestRoom(ctx, companyID, user.UserID); {
	case err == nil:
		roomID = &room.RoomID
	case !errors.Is(err, store.ErrNotFound):
		log.Error("latest room lookup failed", "err", err)
		return events.APIGatewayV2HTTPResponse{}, err
	}
	token, err := h.tokens.Issue(auth.Identity{
		UserID: user.UserID, CompanyID: user.CompanyID, Role: user.Role, Name: user.UserName, Version: user.TokenVersion,
	}, now)
	if err != nil {
		log.Error("issue token failed", "err", err)
		return events.APIGatewayV2HTTPResponse{}, err
	}
	log.Info("login succeeded")
	return apigw.HTTPJSON(http.StatusOK, Response{
		UserID:    user.UserID,
		UserName:  user.UserName,
		Role:      user.Role,
		Email:     user.Email,
		Token:     token,
		RoomID:    roomID,
		CompanyID: user.CompanyID,
	}), nil
}

// readCredentials takes the credentials from the JSON body or from the
// query string (as the trace's clients send them). A body without
// credentials ("{}", "null", empty) defers to the query string, as the old
// backend did; credentials in both places are refused. Both id and password
// are required, the id must have a user id's form and the password fit
// bcrypt.
func readCredentials(req events.APIGatewayV2HTTPRequest) (credentials, error) {
	body, err := apigw.Body(req.Body, req.IsBase64Encoded, maxBodyBytes)
	if err != nil {
		return credentials{}, err
	}
	var c credentials
	if strings.TrimSpace(string(body)) != "" {
		if err := apigw.DecodeJSON(body, &c); err != nil {
			return credentials{}, err
		}
	}
	q, err := apigw.Query(req.RawQueryString, nil, req.QueryStringParameters)
	if err != nil {
		return credentials{}, err
	}
	inBody := c.ID != "" || c.Password != ""
	inQuery := q.Has("id") || q.Has("password")
	switch {
	case inBody && inQuery:
		return credentials{}, apigw.BadRequest("credentials given both in the body and in the query string")
	case inQuery:
		if c.ID, err = apigw.One(q, "id"); err != nil {
			return credentials{}, err
		}
		if c.Password, err = apigw.One(q, "password"); err != nil {
			return credentials{}, err
		}
	}
	switch {
	case c.ID == "" || c.Password == "":
		return credentials{}, apigw.BadRequest("id and password are required")
	case !store.ValidUserID(c.ID):
		return credentials{}, apigw.BadRequest("invalid id")
	case len(c.Password) > auth.MaxPasswordLen:
		return credentials{}, apigw.BadRequest("password longer than %d bytes", auth.MaxPasswordLen)
	}
	return c, nil
}
