// Package metrics writes CloudWatch metrics as embedded metric format (EMF)
// lines: JSON objects on the function's output that CloudWatch Logs turns
// into metrics, with no CloudWatch API call, no permission and no latency
// on the request path.
//
// The contract:
//   - one Emit is one line, written with one Write: lines of concurrent
//     goroutines never interleave;
//   - a line is an EMF document (the "_aws" metadata with one metric
//     directive: the Namespace, one dimension set, the metrics) whose root
//     also carries "level":"INFO", an RFC 3339 "timestamp" and "msg":
//     "metrics", so that Lambda's log-level filter (which reads "level" and
//     "timestamp") passes it at INFO and never rewrites it;
//   - metrics do not depend on LOG_LEVEL: a function that logs only
//     errors still reports every metric;
//   - a metric whose value is not finite, and a line with no metric, are
//     not written; writing is best effort (an error of the writer is
//     dropped: metrics never fail a request).
//
// Names and units are the contract with the template's alarms and
// dashboard; docs/operations.md lists them.
package metrics

import (
	"encoding/json"
	"io"
	"math"
	"os"
	"sync"
	"time"
)

// DefaultNamespace is the namespace of an Emitter built with no namespace.
// Deployed functions get METRICS_NAMESPACE, ragchat/<stack name>, from the
// template.
const DefaultNamespace = "ragchat"

// Unit is a CloudWatch metric unit.
type Unit string

// The units ragchat's metrics use.
const (
	Count        Unit = "Count"
	Milliseconds Unit = "Milliseconds"
	Bytes        Unit = "Bytes"
)

// Metric is one value of a line.
type Metric struct {
	Name  string
	Unit  Unit
	Value float64
}

// Dimension is one name/value pair of a line's dimension set.
type Dimension struct {
	Name  string
	Value string
}

// Emitter writes EMF lines. A nil *Emitter writes to standard output in
// DefaultNamespace. It is safe for concurrent use.
type Emitter struct {
	mu        sync.Mutex
	w         io.Writer
	namespace string
	now       func() time.Time
}

// New returns an Emitter writing to w in namespace ("" means
// DefaultNamespace).
func New(w io.Writer, namespace string) *Emitter {
	if namespace == "" {
		namespace = DefaultNamespace
	}
	return &Emitter{w: w, namespace: namespace, now: time.Now}
}

var stdout = New(os.Stdout, "")

// directive is the EMF MetricDirective of a line.
type directive struct {
	Namespace  string       `json:"Namespace"`
	Dimensions [][]string   `json:"Dimensions"`
	Metrics    []definition `json:"Metrics"`
}

type definition struct {
	Name string `json:"Name"`
	Unit Unit   `json:"Unit,omitempty"`
}

type metadata struct {
	Timestamp         int64       `json:"Timestamp"`
	CloudWatchMetrics []directive `json:"CloudWatchMetrics"`
}

// Emit writes one line: the metrics ms under the dimension set dims. A
// dimension and a metric must not share a name, nor use the root's own
// keys (_aws, level, timestamp, msg); a later duplicate is dropped.
func (e *Emitter) Emit(dims []Dimension, ms ...Metric) {
	if e == nil {
		e = stdout
	}
	now := e.now()
	root := map[string]any{"level": "INFO", "timestamp": now.UTC().Format("2006-01-02T15:04:05.000Z07:00"), "msg": "metrics"}
	names := make([]string, 0, len(dims))
	for _, d := range dims {
		if _, taken := root[d.Name]; taken || d.Name == "_aws" || d.Value == "" {
			continue
		}
		root[d.Name] = d.Value
		names = append(names, d.Name)
	}
	defs := make([]definition, 0, len(ms))
	for _, m := range ms {
		if _, taken := root[m.Name]; taken || m.Name == "_aws" || math.IsNaN(m.Value) || math.IsInf(m.Value, 0) {
			continue
		}
		root[m.Name] = m.Value
		defs = append(defs, definition{Name: m.Name, Unit: m.Unit})
	}
	if len(defs) == 0 {
		return
	}
	root["_aws"] = metadata{
		Timestamp:         now.UnixMilli(),
		CloudWatchMetrics: []directive{{Namespace: e.namespace, Dimensions: [][]string{names}, Metrics: defs}},
	}
	line, err := json.Marshal(root)
	if err != nil {
		return
	}
	line = append(line, '\n')
	e.mu.Lock()
	defer e.mu.Unlock()
	_, _ = e.w.Write(line)
}

// Ms is d in (fractional) milliseconds, the unit of every duration metric.
func Ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Bool is 1 for true and 0 for false: a count that alarms can divide by
// another (a share of answers, say).
func Bool(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
