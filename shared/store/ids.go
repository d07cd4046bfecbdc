package store

import (
	"crypto/rand"
	"encoding/hex"
	"regexp"
)

// Values of User.Role and Room.Status that ragchat writes.
const (
	UserRoleCustomer = "CUSTOMER"
	UserRoleAgent    = "AGENT" // a support agent

	RoomStatusBot     = "BOT"     // questions go to the RAG service
	RoomStatusWaiting = "WAITING" // the customer asked for a person
	RoomStatusAgent   = "AGENT"   // an agent holds the room
	RoomStatusClosed  = "CLOSED"  // over: nothing more is answered
)

var (
	companyIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)
	userIDPattern    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$`)
	roomIDPattern    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)
)

// ValidCompanyID reports whether s has the form of a company id: 1 to 64
// ASCII letters, digits, '_' or '-', starting with a letter or digit.
func ValidCompanyID(s string) bool { return companyIDPattern.MatchString(s) }

// ValidUserID reports whether s has the form of a user id: 1 to 128 ASCII
// letters, digits, '.', '_', '@', '+' or '-', starting with a letter or
// digit (so an e-mail address is a valid id). It never contains '#', which
// joins keys.
func ValidUserID(s string) bool { return userIDPattern.MatchString(s) }

// ValidRoomID reports whether s has the form of a room id: 1 to 64 ASCII
// letters, digits, '_' or '-', starting with a letter or digit. Room ids
// ragchat creates are NewRoomID's.
func ValidRoomID(s string) bool { return roomIDPattern.MatchString(s) }

// NewRoomID returns "room-" and 8 lowercase hex digits from crypto/rand.
// Ids can collide; CreateRoom refuses to overwrite, so callers retry.
func NewRoomID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b) // never fails: crypto/rand crashes the program instead
	return "room-" + hex.EncodeToString(b)
}

// NewMessageID returns "m-" and 16 lowercase hex digits from crypto/rand:
// the id of a question, an answer or any other message of a room.
func NewMessageID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b) // never fails: crypto/rand crashes the program instead
	return "m-" + hex.EncodeToString(b)
}

// ValidRole reports whether role is one ragchat admits: exactly
// UserRoleCustomer or UserRoleAgent. Every reader and writer of a role
// checks it.
func ValidRole(role string) bool { return role == UserRoleCustomer || role == UserRoleAgent }
