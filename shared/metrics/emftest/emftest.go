// Package emftest checks lines against the CloudWatch embedded metric
// format specification, for the tests of code that writes metrics.
//
// What Parse enforces (the specification's MUSTs): the line is one JSON
// object; "_aws" is an object with a numeric Timestamp (epoch ms) and a
// non-empty CloudWatchMetrics array; every directive has a Namespace of 1
// to 255 characters (CloudWatch's limit) not starting with "AWS/", a
// Dimensions array of dimension sets of at most 30 names each, and 1 to 100
// Metrics; every dimension names a root member that is a non-empty string
// of at most 1024 characters; every metric has a Name of 1 to 255
// characters naming a root member that is a number or an array of at most
// 100 numbers, an optional Unit from CloudWatch's list and an optional
// StorageResolution of 1 or 60.
package emftest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

// Units are CloudWatch's standard units, the values Unit may take.
var Units = map[string]bool{
	"Seconds": true, "Microseconds": true, "Milliseconds": true, "Bytes": true, "Kilobytes": true,
	"Megabytes": true, "Gigabytes": true, "Terabytes": true, "Bits": true, "Kilobits": true,
	"Megabits": true, "Gigabits": true, "Terabits": true, "Percent": true, "Count": true,
	"Bytes/Second": true, "Kilobytes/Second": true, "Megabytes/Second": true, "Gigabytes/Second": true,
	"Terabytes/Second": true, "Bits/Second": true, "Kilobits/Second": true, "Megabits/Second": true,
	"Gigabits/Second": true, "Terabits/Second": true, "Count/Second": true, "None": true,
}

// Line is one valid EMF line.
type Line struct {
	Namespace string
	// Dimensions holds the dimension values of the first dimension set.
	Dimensions map[string]string
	// Metrics maps each metric's name to its value (the first, for arrays).
	Metrics map[string]float64
	Units   map[string]string
	Root    map[string]any
}

// Parse checks one line and returns what it holds.
func Parse(line []byte) (Line, error) {
	var root map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(line))
	if err := dec.Decode(&root); err != nil {
		return Line{}, fmt.Errorf("not a JSON object: %w", err)
	}
	if dec.More() {
		return Line{}, fmt.Errorf("data after the JSON object")
	}
	var meta struct {
		Timestamp         json.RawMessage
		CloudWatchMetrics []struct {
			Namespace  *string
			Dimensions [][]string
			Metrics    []struct {
				Name              *string
				Unit              *string
				StorageResolution *int
			}
		}
	}
	raw, ok := root["_aws"]
	if !ok {
		return Line{}, fmt.Errorf("no _aws member")
	}
	if err := json.Unmarshal(raw, &meta); err != nil {
		return Line{}, fmt.Errorf("_aws: %w", err)
	}
	var ts int64
	if err := json.Unmarshal(meta.Timestamp, &ts); err != nil || ts <= 0 {
		return Line{}, fmt.Errorf("_aws.Timestamp %s is not a number of epoch milliseconds", meta.Timestamp)
	}
	if len(meta.CloudWatchMetrics) == 0 {
		return Line{}, fmt.Errorf("_aws.CloudWatchMetrics is empty")
	}
	out := Line{Dimensions: map[string]string{}, Metrics: map[string]float64{}, Units: map[string]string{}, Root: map[string]any{}}
	if err := json.Unmarshal(line, &out.Root); err != nil {
		return Line{}, err
	}
	for i, d := range meta.CloudWatchMetrics {
		if d.Namespace == nil || *d.Namespace == "" || utf8.RuneCountInString(*d.Namespace) > 255 || strings.HasPrefix(*d.Namespace, "AWS/") {
			return Line{}, fmt.Errorf("directive %d: Namespace %v", i, d.Namespace)
		}
		if i == 0 {
			out.Namespace = *d.Namespace
		}
		if d.Dimensions == nil {
			return Line{}, fmt.Errorf("directive %d: Dimensions is missing", i)
		}
		for _, set := range d.Dimensions {
			if len(set) > 30 {
				return Line{}, fmt.Errorf("directive %d: a dimension set of %d names (at most 30)", i, len(set))
			}
			for _, name := range set {
				var v string
				if err := json.Unmarshal(root[name], &v); err != nil || v == "" || utf8.RuneCountInString(v) > 1024 {
					return Line{}, fmt.Errorf("directive %d: dimension %q is not a root string of 1 to 1024 characters", i, name)
				}
				if i == 0 {
					out.Dimensions[name] = v
				}
			}
		}
		if len(d.Metrics) == 0 || len(d.Metrics) > 100 {
			return Line{}, fmt.Errorf("directive %d: %d metrics (1 to 100)", i, len(d.Metrics))
		}
		for _, m := range d.Metrics {
			if m.Name == nil || *m.Name == "" || utf8.RuneCountInString(*m.Name) > 255 {
				return Line{}, fmt.Errorf("directive %d: metric Name %v", i, m.Name)
			}
			if m.Unit != nil && !Units[*m.Unit] {
				return Line{}, fmt.Errorf("metric %s: unit %q is not a CloudWatch unit", *m.Name, *m.Unit)
			}
			if m.StorageResolution != nil && *m.StorageResolution != 1 && *m.StorageResolution != 60 {
				return Line{}, fmt.Errorf("metric %s: StorageResolution %d (1 or 60)", *m.Name, *m.StorageResolution)
			}
			v, err := metricValue(root[*m.Name])
			if err != nil {
				return Line{}, fmt.Errorf("metric %s: %w", *m.Name, err)
			}
			out.Metrics[*m.Name] = v
			if m.Unit != nil {
				out.Units[*m.Name] = *m.Unit
			}
		}
	}
	return out, nil
}

func metricValue(raw json.RawMessage) (float64, error) {
	if raw == nil {
		return 0, fmt.Errorf("no root member holds its value")
	}
	var n float64
	if err := json.Unmarshal(raw, &n); err == nil {
		return n, nil
	}
	var ns []float64
	if err := json.Unmarshal(raw, &ns); err != nil || len(ns) == 0 || len(ns) > 100 {
		return 0, fmt.Errorf("value %s is not a number or an array of 1 to 100 numbers", raw)
	}
	return ns[0], nil
}

// Lines returns the EMF lines of output (lines with an "_aws" member),
// failing t on any that is not valid EMF. Other lines (logs) are skipped.
func Lines(t testing.TB, output []byte) []Line {
	t.Helper()
	var out []Line
	sc := bufio.NewScanner(bytes.NewReader(output))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if !bytes.Contains(sc.Bytes(), []byte(`"_aws"`)) {
			continue
		}
		l, err := Parse(sc.Bytes())
		if err != nil {
			t.Errorf("invalid EMF line %s: %v", sc.Bytes(), err)
			continue
		}
		out = append(out, l)
	}
	return out
}

// Find returns the lines that carry metric name.
func Find(lines []Line, name string) []Line {
	var out []Line
	for _, l := range lines {
		if _, ok := l.Metrics[name]; ok {
			out = append(out, l)
		}
	}
	return out
}
