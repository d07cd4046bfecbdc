// Package store is the one place that knows ragchat's DynamoDB tables and
// attribute names. Handlers and the relay depend on the narrow interfaces
// they need; *Store implements all of them against the real SDK client.
package store

import "errors"

// Tables names the physical DynamoDB tables, as the template passes them in
// the *_TABLE environment variables.
type Tables struct {
	Users         string
	Rooms         string
	Connections   string
	Messages      string
	LoginAttempts string
}

// ErrNotFound is returned when a requested item does not exist.
var ErrNotFound = errors.New("not found")

// ErrExists is returned when a conditional create finds the key taken.
var ErrExists = errors.New("already exists")

// User is an item of the Users table.
type User struct {
	CompanyID    string
	UserID       string
	UserName     string
	Email        string
	Role         string
	PasswordHash string
	CreatedAt    int64 // epoch ms
}

// Room is an item of the Rooms table.
type Room struct {
	RoomID         string
	CompanyID      string
	UserID         string // owner
	RoomName       string
	Members        []string
	Status         string
	AssignedAgent  *string
	CustID         *string
	CreatedAt      int64 // epoch ms
	LastActivityAt int64 // epoch ms
	// AssignedAgentName is the display name of AssignedAgent ("" when none).
	AssignedAgentName string
	// WaitingSince is when the room entered WAITING (epoch ms), 0 when it
	// is not waiting.
	WaitingSince int64
}

// Connection is an item of the Connections table: one live websocket.
type Connection struct {
	ConnectionID string
	RoomID       string
	UserID       string
	UserName     string
	CompanyID    string
	Role         string // the token's role: UserRoleCustomer or UserRoleAgent
	ConnectedAt  int64  // epoch ms
	ExpiresAt    int64  // epoch s, the table's TTL attribute
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
	RoomID    string
	At        int64 // epoch ms; with MessageID forms the sort key
	MessageID string
	Role      string // RoleUser, RoleBot, RoleAgent or RoleSystem
	Text      string
	Outcome   string // "" for questions; "complete" or an error code for answers
	Category1 string
	Category2 string
	UserName  string // the sender's display name (user and agent messages)
	Event     string // a system message's Event* (see handoff.go)
}
