package relay

import "fmt"

// TypeStatus is the frame type of a room's status (handoff) change.
const TypeStatus = "status"

// Status is a status frame: the room's status after a change, and the
// system message stored for the change (MessageID, Event, Text and
// CreatedAt, left out of the frame when MessageID is empty: a frame that
// only tells the current status).
type Status struct {
	SessionID     string  // the room id
	Status        string  // BOT, WAITING, AGENT or CLOSED
	AssignedAgent *string // the agent's user id; nil (null in the frame) when none
	AgentName     *string // the agent's display name; nil (null) when none
	MessageID     string
	Event         string
	Text          string
	CreatedAt     int64 // epoch ms
}

// statusFrame is the JSON shape of a status frame (DESIGN.md).
type statusFrame struct {
	Type          string  `json:"type"`
	SessionID     string  `json:"sessionId"`
	Status        string  `json:"status"`
	AssignedAgent *string `json:"assignedAgent"`
	AgentName     *string `json:"agentName"`
	MessageID     string  `json:"messageId,omitempty"`
	Event         string  `json:"event,omitempty"`
	Text          string  `json:"text,omitempty"`
	CreatedAt     int64   `json:"createdAt,omitempty"`
}

// StatusFrame encodes s as a status frame, without HTML escaping.
func StatusFrame(s Status) ([]byte, error) {
	frame, err := encodeFrame(statusFrame{
		Type: TypeStatus, SessionID: s.SessionID, Status: s.Status, AssignedAgent: s.AssignedAgent, AgentName: s.AgentName,
		MessageID: s.MessageID, Event: s.Event, Text: s.Text, CreatedAt: s.CreatedAt,
	})
	if err != nil {
		return nil, fmt.Errorf("status frame of %s: %w", s.SessionID, err)
	}
	return frame, nil
}
