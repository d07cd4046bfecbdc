package bench

import (
	"math"
	"testing"

	"github.com/ragchat/ragchat/local/dynamo"
)

func TestPrices_CostOfThousandAnswers(t *testing.T) {
	p := Prices{WSMessagesPerMillion: 1, WSConnMinutesPerMillion: 0.25, LambdaGBSecond: 0.00001, LambdaRequestsPerMillion: 0.2,
		DynamoWRUPerMillion: 0.625, DynamoRRUPerMillion: 0.125}
	sizes := ItemSizes{
		Bytes:   map[string][]int{"MessagesTable": {300, 1500}, "RoomsTable": {400}, "ConnectionsTable": {200}},
		GSIs:    map[string]int{"RoomsTable": 1, "ConnectionsTable": 1},
		Logical: map[string]string{"m": "MessagesTable", "r": "RoomsTable", "c": "ConnectionsTable"},
	}
	calls := dynamo.Counts{
		{Operation: "GetItem", Table: "c"}: 1, {Operation: "Query", Table: "c"}: 1,
		{Operation: "PutItem", Table: "m"}: 2, {Operation: "UpdateItem", Table: "r"}: 1,
	}
	// 99 frames of 200 bytes, 1 minute, 2 s billed at 512 MB.
	c := p.Cost(99, 99*200, 60000, 2000, 512, calls, sizes)
	want := AnswerCost{Messages: 100, ConnMinutes: 1, GBSeconds: 1, RRU: 1.5, WRU: 1 + 2 + 2}
	want.WS = 1000 * (100*1 + 1*0.25) / 1e6
	want.Lambda = 1000 * (1*0.00001 + 0.2/1e6)
	want.Dynamo = 1000 * (1.5*0.125 + 5*0.625) / 1e6
	want.Total = want.WS + want.Lambda + want.Dynamo
	for _, f := range []struct {
		name      string
		got, want float64
	}{
		{"messages", c.Messages, want.Messages}, {"conn minutes", c.ConnMinutes, want.ConnMinutes},
		{"GB-s", c.GBSeconds, want.GBSeconds}, {"RRU", c.RRU, want.RRU}, {"WRU", c.WRU, want.WRU},
		{"WS $", c.WS, want.WS}, {"Lambda $", c.Lambda, want.Lambda}, {"DynamoDB $", c.Dynamo, want.Dynamo},
		{"total $", c.Total, want.Total},
	} {
		if math.Abs(f.got-f.want) > 1e-12 {
			t.Errorf("%s = %v, want %v", f.name, f.got, f.want)
		}
	}
}
