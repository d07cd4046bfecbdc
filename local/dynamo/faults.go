package dynamo

import "slices"

// Call identifies what a request did: its operation and one table it
// named. A batch or transaction naming several tables counts once per table;
// a request naming none (ListTables) counts with an empty Table.
type Call struct {
	Operation string
	Table     string
}

// Counts maps calls to how many requests made them.
type Counts map[Call]int

// Sub returns the counts made since before was taken (c minus before),
// leaving out calls whose difference is zero.
func (c Counts) Sub(before Counts) Counts {
	out := Counts{}
	for k, n := range c {
		if d := n - before[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}

// Filter returns the counts whose call satisfies keep.
func (c Counts) Filter(keep func(Call) bool) Counts {
	out := Counts{}
	for k, n := range c {
		if keep(k) {
			out[k] = n
		}
	}
	return out
}

// Total is the sum of all counts.
func (c Counts) Total() int {
	total := 0
	for _, n := range c {
		total += n
	}
	return total
}

// Counts returns a snapshot of the requests served so far, per operation and
// table. Requests answered with an injected fault are included.
func (h *Handler) Counts() Counts {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(Counts, len(h.counts))
	for k, n := range h.counts {
		out[k] = n
	}
	return out
}

// Fault is an injected failure registered with Throttle.
type Fault struct {
	h         *Handler
	id        int
	operation string
	table     string
	remaining int // < 0: unlimited
	hits      int
	errorType string
	message   string
	// unprocessed: the request succeeds with nothing done, every key or
	// item handed back as unprocessed (LeaveUnprocessed), instead of an
	// error.
	unprocessed bool
}

// throttleMessage is DynamoDB's own text for the error.
const throttleMessage = "The level of configured provisioned throughput for the table was exceeded. " +
	"Consider increasing your provisioning level with the UpdateTable API."

// Throttle makes the next n requests of operation (e.g. "GetItem") naming
// table fail with HTTP 400 and ProvisionedThroughputExceededException, as
// DynamoDB answers when a table's capacity is exceeded. An empty operation
// matches every operation and an empty table every table; n < 0 fails every
// matching request until the fault is removed. The SDK retries this error
// (four attempts in total by default for DynamoDB, with backoff), so a
// caller that must see it needs n >= its attempts. Faults are checked in the order they were added and the
// first match with requests left is used.
func (h *Handler) Throttle(operation, table string, n int) *Fault {
	f := &Fault{
		h:         h,
		operation: operation,
		table:     table,
		remaining: n,
		errorType: "ProvisionedThroughputExceededException",
		message:   throttleMessage,
	}
	h.mu.Lock()
	h.lastFaultID++
	f.id = h.lastFaultID
	h.faults = append(h.faults, f)
	h.mu.Unlock()
	return f
}

// LeaveUnprocessed makes the next n BatchGetItem requests naming table
// (any table when empty; every one until removed when n < 0) succeed
// having read nothing: every key comes back in UnprocessedKeys, as
// DynamoDB answers a batch it could not serve within the table's
// capacity. The SDK does not retry that (it is a 200): the caller must.
func (h *Handler) LeaveUnprocessed(table string, n int) *Fault {
	f := h.Throttle("BatchGetItem", table, n)
	h.mu.Lock()
	f.unprocessed = true
	h.mu.Unlock()
	return f
}

// ID identifies the fault in the control API (/_local/faults/{id}).
func (f *Fault) ID() int { return f.id }

// Hits reports how many requests the fault has failed so far.
func (f *Fault) Hits() int {
	f.h.mu.Lock()
	defer f.h.mu.Unlock()
	return f.hits
}

// Remove stops the fault; requests already failed stay failed. Removing a
// removed fault does nothing.
func (f *Fault) Remove() {
	f.h.mu.Lock()
	defer f.h.mu.Unlock()
	f.h.faults = slices.DeleteFunc(f.h.faults, func(g *Fault) bool { return g == f })
}

// record counts a request and returns the fault that fails it, if any.
func (h *Handler) record(operation string, tables []string) *Fault {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(tables) == 0 {
		h.counts[Call{Operation: operation}]++
	}
	for _, t := range tables {
		h.counts[Call{Operation: operation, Table: t}]++
	}
	for _, f := range h.faults {
		if f.remaining == 0 {
			continue
		}
		if f.operation != "" && f.operation != operation {
			continue
		}
		if f.table != "" && !slices.Contains(tables, f.table) {
			continue
		}
		if f.remaining > 0 {
			f.remaining--
		}
		f.hits++
		return f
	}
	return nil
}
