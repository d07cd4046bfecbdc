package bench

import (
	"fmt"
	"math"
	"strings"

	"github.com/ragchat/ragchat/local/dynamo"
)

// Prices are AWS list prices in USD. They are assumptions written into the
// output: check them against the pricing pages before relying on a figure.
type Prices struct {
	Region, AsOf string
	// API Gateway WebSocket APIs: per million messages (metered in 32 KB
	// units, both directions, first billion a month) and per million
	// connection minutes.
	WSMessagesPerMillion, WSConnMinutesPerMillion float64
	// Lambda on arm64: per GB-second (first tier) and per million requests.
	LambdaGBSecond, LambdaRequestsPerMillion float64
	// DynamoDB on-demand: per million write and read request units.
	DynamoWRUPerMillion, DynamoRRUPerMillion float64
}

// ListPrices are the us-east-1 list prices the cost figures use (as
// published in 2025; DynamoDB's on-demand prices are those after its
// November 2024 reduction).
var ListPrices = Prices{
	Region:                   "us-east-1",
	AsOf:                     "AWS list prices as published in 2025 (not re-checked on the run date)",
	WSMessagesPerMillion:     1.00,
	WSConnMinutesPerMillion:  0.25,
	LambdaGBSecond:           0.0000133334,
	LambdaRequestsPerMillion: 0.20,
	DynamoWRUPerMillion:      0.625,
	DynamoRRUPerMillion:      0.125,
}

// Describe lists the prices, one per line.
func (p Prices) Describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Prices (%s, %s):\n", p.Region, p.AsOf)
	fmt.Fprintf(&b, "- API Gateway WebSocket: $%.2f per million messages (32 KB units), $%.2f per million connection minutes\n",
		p.WSMessagesPerMillion, p.WSConnMinutesPerMillion)
	fmt.Fprintf(&b, "- Lambda arm64: $%.10f per GB-second, $%.2f per million requests\n", p.LambdaGBSecond, p.LambdaRequestsPerMillion)
	fmt.Fprintf(&b, "- DynamoDB on-demand: $%.3f per million WRU, $%.3f per million RRU\n", p.DynamoWRUPerMillion, p.DynamoRRUPerMillion)
	return b.String()
}

// AnswerCost is the AWS bill of 1,000 answers, by service, from the
// counts measured for one answer.
type AnswerCost struct {
	Messages    float64 // API Gateway message units per answer (the question in, every frame out)
	ConnMinutes float64 // connection minutes per answer (the answer's duration)
	GBSeconds   float64 // Lambda GB-seconds per answer
	RRU, WRU    float64 // DynamoDB request units per answer
	// Dollars per 1,000 answers.
	WS, Lambda, Dynamo, Total float64
}

// Cost prices one answer's counts: frames delivered (with their total
// bytes), the time the client waited, the invocation's billed duration at
// memoryMB, and the DynamoDB requests.
func (p Prices) Cost(frames, frameBytes float64, clientMs, billedMs float64, memoryMB int, calls dynamo.Counts, sizes ItemSizes) AnswerCost {
	var c AnswerCost
	const unit = 32 * 1024
	// Every frame is <= 32 KB (one unit); a frame's bytes beyond that would
	// cost more units, which the mean frame size shows.
	c.Messages = 1 + frames*math.Max(1, math.Ceil(frameBytes/math.Max(frames, 1)/unit))
	c.ConnMinutes = clientMs / 60000
	c.GBSeconds = billedMs / 1000 * float64(memoryMB) / 1024
	c.RRU, c.WRU = sizes.Units(calls)
	const k = 1000
	c.WS = k * (c.Messages*p.WSMessagesPerMillion + c.ConnMinutes*p.WSConnMinutesPerMillion) / 1e6
	c.Lambda = k * (c.GBSeconds*p.LambdaGBSecond + p.LambdaRequestsPerMillion/1e6)
	c.Dynamo = k * (c.RRU*p.DynamoRRUPerMillion + c.WRU*p.DynamoWRUPerMillion) / 1e6
	c.Total = c.WS + c.Lambda + c.Dynamo
	return c
}

// CostTable prices each relay at each latency from the medians of its runs.
func (r *RelayResult) CostTable(p Prices) *Table {
	t := &Table{Header: []string{"post latency", "relay", "messages/answer", "conn-min/answer", "Lambda GB-s/answer",
		"RRU/answer", "WRU/answer", "API GW $/1k", "Lambda $/1k", "DynamoDB $/1k", "total $/1k answers"}}
	for _, lat := range r.Config.LatencyMs {
		for _, relay := range []string{Coalescing, Baseline} {
			cell := r.cell(relay, lat)
			frames := Median(cell.frames)
			c := p.Cost(frames, frames*Median(cell.bytesPerFrame), Median(cell.client), Median(cell.billed),
				cell.memoryMB, cell.dynamo, r.Items)
			t.Add(fmt.Sprintf("%d ms", lat), relay, fmt.Sprintf("%.0f", c.Messages), fmt.Sprintf("%.3f", c.ConnMinutes),
				fmt.Sprintf("%.3f", c.GBSeconds), fmt.Sprintf("%.1f", c.RRU), fmt.Sprintf("%.1f", c.WRU),
				fmt.Sprintf("%.4f", c.WS), fmt.Sprintf("%.4f", c.Lambda), fmt.Sprintf("%.4f", c.Dynamo), fmt.Sprintf("**%.4f**", c.Total))
		}
	}
	return t
}
