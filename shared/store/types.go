// Package store is the one place that knows ragchat's DynamoDB tables and
// attribute names. Handlers and the relay depend on the narrow interfaces
// they need; *Store implements all of them against the real SDK client.
//
// An item type's dynamodbav tags are its attribute names, encoded and
// decoded by attributevalue: a new attribute is a new tagged field
// (`omitempty` on an optional string); keys derived from fields are added
// by the record types in attrs.go.
package store

import (
	"errors"
	"fmt"
)

// Tables names the physical DynamoDB tables, as the template passes them in
// the *_TABLE environment variables.
type Tables struct {
	Users         string
	Rooms         string
	Connections   string
	Messages      string
	LoginAttempts string
	Limits        string // question buckets and room-creation windows
}

// ErrNotFound is returned when a requested item does not exist.
var ErrNotFound = errors.New("not found")

// ErrExpired is returned (with the item) for a connection whose expiresAt
// has passed: its token has expired, or API Gateway has closed it. It
// wraps ErrNotFound: a reader that does not care sees a missing item.
var ErrExpired = fmt.Errorf("expired: %w", ErrNotFound)

// ErrExists is returned when a conditional create finds the key taken.
var ErrExists = errors.New("already exists")

// User is an item of the Users table.
type User struct {
	CompanyID    string `dynamodbav:"companyId"`
	UserID       string `dynamodbav:"userId"`
	UserName     string `dynamodbav:"userName,omitempty"`
	Email        string `dynamodbav:"email,omitempty"`
	Role         string `dynamodbav:"role,omitempty"`
	PasswordHash string `dynamodbav:"passwordHash"`
	CreatedAt    int64  `dynamodbav:"createdAt"` // epoch ms
	// TokenVersion is carried by the user's tokens (claim ver); every
	// password change bumps it, so that earlier tokens stop verifying.
	TokenVersion int64 `dynamodbav:"tokenVersion,omitempty"`
}

// Room is an item of the Rooms table.
type Room struct {
	RoomID         string   `dynamodbav:"roomId"`
	CompanyID      string   `dynamodbav:"companyId"`
	UserID         string   `dynamodbav:"userId"` // owner
	RoomName       string   `dynamodbav:"roomName,omitempty"`
	Members        []string `dynamodbav:"members"` // never nil when read; stored as a list, empty included
	Status         string   `dynamodbav:"status,omitempty"`
	AssignedAgent  *string  `dynamodbav:"assignedAgent"`  // NULL when nil
	CustID         *string  `dynamodbav:"custId"`         // NULL when nil
	CreatedAt      int64    `dynamodbav:"createdAt"`      // epoch ms
	LastActivityAt int64    `dynamodbav:"lastActivityAt"` // epoch ms
	// AssignedAgentName is the display name of AssignedAgent ("" when none).
	AssignedAgentName string `dynamodbav:"assignedAgentName,omitempty"`
	// WaitingSince is when the room entered WAITING (epoch ms), 0 when it
	// is not waiting.
	WaitingSince int64 `dynamodbav:"waitingSince"`
}

// Connection is an item of the Connections table: one live websocket.
type Connection struct {
	ConnectionID string `dynamodbav:"connectionId"`
	RoomID       string `dynamodbav:"roomId"`
	UserID       string `dynamodbav:"userId,omitempty"`
	UserName     string `dynamodbav:"userName,omitempty"`
	CompanyID    string `dynamodbav:"companyId,omitempty"`
	Role         string `dynamodbav:"role,omitempty"` // the token's role: UserRoleCustomer or UserRoleAgent
	ConnectedAt  int64  `dynamodbav:"connectedAt"`    // epoch ms
	ExpiresAt    int64  `dynamodbav:"expiresAt"`      // epoch s, the table's TTL attribute
	// Slot is the key of the room's socket slot the connection holds
	// (slots.go), "" when the room has no cap.
	Slot string `dynamodbav:"slot,omitempty"`
	// TokenVersion is the version (claim ver) of the token the socket
	// connected with; a question compares it with the user's, so that a
	// password change revokes the socket too. nil in items stored before
	// connections had it, which are not checked.
	TokenVersion *int64 `dynamodbav:"tokenVersion,omitempty"`
}

// Message roles and outcomes as stored in the Messages table.
const (
	RoleUser   = "user"
	RoleBot    = "bot"
	RoleAgent  = "agent"
	RoleSystem = "system"
)

// Message is an item of the Messages table: a question or an answer.
type Message struct {
	RoomID    string `dynamodbav:"roomId"`
	At        int64  `dynamodbav:"at"` // epoch ms; with MessageID forms the sort key
	MessageID string `dynamodbav:"messageId"`
	Role      string `dynamodbav:"role"` // RoleUser, RoleBot, RoleAgent or RoleSystem
	Text      string `dynamodbav:"text,omitempty"`
	Outcome   string `dynamodbav:"outcome,omitempty"` // "" for questions; "complete" or an error code for answers
	Category1 string `dynamodbav:"category1,omitempty"`
	Category2 string `dynamodbav:"category2,omitempty"`
	UserName  string `dynamodbav:"userName,omitempty"` // the sender's display name (user and agent messages)
	Event     string `dynamodbav:"event,omitempty"`    // a system message's Event* (see handoff.go)
	// ClientMessageID is the clientMessageId the client sent the question
	// with ("" when none); see repeats.go.
	ClientMessageID string `dynamodbav:"clientMessageId,omitempty"`
}

// MaxMessageTextBytes is the longest Text a message is written with: what
// one Messages item holds (DynamoDB's 400 KB, 409,600 bytes) less 9,600
// bytes for the item's other attributes and their names. The message
// function ends an answer that would outgrow it.
const MaxMessageTextBytes = 400_000

// OutcomeComplete is the outcome of an answer that ended well, and
// OutcomeStreaming that of an answer still being written; any other
// outcome is the error code the answer ended with.
const (
	OutcomeComplete  = "complete"
	OutcomeStreaming = "streaming"
)
