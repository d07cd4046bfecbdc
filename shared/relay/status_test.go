package relay

import "testing"

func TestStatusFrame_ShapeWithAndWithoutSystemMessage(t *testing.T) {
	agent, name := "agent1", "상담원-01"
	for _, c := range []struct {
		s    Status
		want string
	}{
		{Status{SessionID: "room-1", Status: "AGENT", AssignedAgent: &agent, AgentName: &name,
			MessageID: "m-1", Event: "agent_joined", Text: "상담원-01 상담원이 연결되었습니다. <&>", CreatedAt: 1769145304307},
			`{"type":"status","sessionId":"room-1","status":"AGENT","assignedAgent":"agent1","agentName":"상담원-01",` +
				`"messageId":"m-1","event":"agent_joined","text":"상담원-01 상담원이 연결되었습니다. <&>","createdAt":1769145304307}`},
		{Status{SessionID: "room-1", Status: "WAITING"},
			`{"type":"status","sessionId":"room-1","status":"WAITING","assignedAgent":null,"agentName":null}`},
	} {
		got, err := StatusFrame(c.s)
		if err != nil || string(got) != c.want {
			t.Errorf("StatusFrame = %s, %v\nwant %s", got, err, c.want)
		}
	}
}
