package apigw

import "github.com/ragchat/ragchat/shared/store"

// Message is a stored message as the HTTP API answers it (DESIGN.md,
// "GET /api/customer/rooms/{roomId}/messages"): userName, clientMessageId,
// outcome and event only where the message has them.
type Message struct {
	MessageID       string `json:"messageId"`
	Role            string `json:"role"`
	Text            string `json:"text"`
	CreatedAt       int64  `json:"createdAt"`
	UserName        string `json:"userName,omitempty"`
	ClientMessageID string `json:"clientMessageId,omitempty"`
	Outcome         string `json:"outcome,omitempty"`
	Event           string `json:"event,omitempty"`
}

// MessageOf is m in the HTTP API's shape.
func MessageOf(m store.Message) Message {
	return Message{
		MessageID: m.MessageID, Role: m.Role, Text: m.Text, CreatedAt: m.At, UserName: m.UserName,
		ClientMessageID: m.ClientMessageID, Outcome: m.Outcome, Event: m.Event,
	}
}
