package apigw

import "github.com/ragchat/ragchat/shared/store"

// Room is a room as the HTTP API answers it: the trace's eight keys, in
// its order, with members [] (never null) and explicit nulls.
type Room struct {
	RoomID         string   `json:"roomId"`
	RoomName       string   `json:"roomName"`
	Members        []string `json:"members"`
	Status         string   `json:"status"`
	AssignedAgent  *string  `json:"assignedAgent"`
	CreatedAt      int64    `json:"createdAt"`
	LastActivityAt int64    `json:"lastActivityAt"`
	CustID         *string  `json:"custId"`
}

// RoomOf is r in the HTTP API's shape.
func RoomOf(r store.Room) Room {
	members := r.Members
	if members == nil {
		members = []string{}
	}
	return Room{
		RoomID: r.RoomID, RoomName: r.RoomName, Members: members, Status: r.Status, AssignedAgent: r.AssignedAgent,
		CreatedAt: r.CreatedAt, LastActivityAt: r.LastActivityAt, CustID: r.CustID,
	}
}
