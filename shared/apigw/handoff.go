package apigw

// Error codes of the handoff routes (DESIGN.md, "Handoff").
const (
	CodeRoomNotFound    = "ROOM_NOT_FOUND"   // 404: no such room for the caller
	CodeAlreadyAssigned = "ALREADY_ASSIGNED" // 409: another agent holds the room
	CodeRoomClosed      = "ROOM_CLOSED"      // 409: the room is closed
	CodeNotAssigned     = "NOT_ASSIGNED"     // 409: the caller does not hold the room
)
