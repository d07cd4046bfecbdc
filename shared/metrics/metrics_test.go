package metrics

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ragchat/ragchat/shared/metrics/emftest"
)

// specExample is the example document of the EMF specification
// (CloudWatch_Embedded_Metric_Format_Specification, "Example").
const specExample = `{
  "_aws": {
    "Timestamp": 1574109732004,
    "CloudWatchMetrics": [
      {
        "Namespace": "lambda-function-metrics",
        "Dimensions": [["functionVersion"]],
        "Metrics": [
          {
            "Name": "time",
            "Unit": "Milliseconds",
            "StorageResolution": 60
          }
        ]
      }
    ]
  },
  "functionVersion": "$LATEST",
  "time": 100,
  "requestId": "989ffbf8-9ace-4817-a57c-e4dd734019ee"
}`

func TestParse_AcceptsTheSpecificationsExample(t *testing.T) {
	l, err := emftest.Parse([]byte(specExample))
	if err != nil {
		t.Fatal(err)
	}
	if l.Namespace != "lambda-function-metrics" || l.Dimensions["functionVersion"] != "$LATEST" || l.Metrics["time"] != 100 || l.Units["time"] != "Milliseconds" {
		t.Errorf("%+v", l)
	}
}

func TestParse_RefusesWhatTheSpecificationForbids(t *testing.T) {
	cases := map[string]string{
		"not JSON":             `{"_aws":`,
		"trailing data":        `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[[]],"Metrics":[{"Name":"m"}]}]},"m":1} x`,
		"no _aws":              `{"m":1}`,
		"no timestamp":         `{"_aws":{"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[[]],"Metrics":[{"Name":"m"}]}]},"m":1}`,
		"string timestamp":     `{"_aws":{"Timestamp":"1","CloudWatchMetrics":[{"Namespace":"n","Dimensions":[[]],"Metrics":[{"Name":"m"}]}]},"m":1}`,
		"no directives":        `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[]},"m":1}`,
		"no namespace":         `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Dimensions":[[]],"Metrics":[{"Name":"m"}]}]},"m":1}`,
		"AWS namespace":        `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"AWS/Lambda","Dimensions":[[]],"Metrics":[{"Name":"m"}]}]},"m":1}`,
		"no dimensions":        `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"n","Metrics":[{"Name":"m"}]}]},"m":1}`,
		"dimension not string": `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[["d"]],"Metrics":[{"Name":"m"}]}]},"d":3,"m":1}`,
		"dimension missing":    `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[["d"]],"Metrics":[{"Name":"m"}]}]},"m":1}`,
		"metric missing":       `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[[]],"Metrics":[{"Name":"m"}]}]}}`,
		"metric not a number":  `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[[]],"Metrics":[{"Name":"m"}]}]},"m":"1"}`,
		"bad unit":             `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[[]],"Metrics":[{"Name":"m","Unit":"ms"}]}]},"m":1}`,
		"bad resolution":       `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[[]],"Metrics":[{"Name":"m","StorageResolution":5}]}]},"m":1}`,
		"no metrics":           `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[[]],"Metrics":[]}]}}`,
	}
	for name, line := range cases {
		if _, err := emftest.Parse([]byte(line)); err == nil {
			t.Errorf("%s: accepted %s", name, line)
		}
	}
}

func TestEmit_WritesOneValidEMFLineWithLevelAndTimestamp(t *testing.T) {
	var buf bytes.Buffer
	e := New(&buf, "ragchat/test")
	e.now = func() time.Time { return time.Date(2026, 12, 1, 9, 30, 0, 123e6, time.UTC) }
	e.Emit([]Dimension{{"Function", "message"}, {"Outcome", "RAG_TIMEOUT"}},
		Metric{"AnswerDuration", Milliseconds, Ms(1500 * time.Millisecond)}, Metric{"Answers", Count, 1})
	if strings.Count(buf.String(), "\n") != 1 || !strings.HasSuffix(buf.String(), "\n") {
		t.Fatalf("want one line, got %q", buf.String())
	}
	l, err := emftest.Parse(bytes.TrimSpace(buf.Bytes()))
	if err != nil {
		t.Fatalf("%s: %v", buf.Bytes(), err)
	}
	if l.Namespace != "ragchat/test" || l.Dimensions["Function"] != "message" || l.Dimensions["Outcome"] != "RAG_TIMEOUT" ||
		l.Metrics["AnswerDuration"] != 1500 || l.Units["AnswerDuration"] != "Milliseconds" || l.Metrics["Answers"] != 1 || l.Units["Answers"] != "Count" {
		t.Errorf("%+v", l)
	}
	if l.Root["level"] != "INFO" || l.Root["timestamp"] != "2026-12-01T09:30:00.123Z" {
		t.Errorf("level %v timestamp %v, want what Lambda's log-level filter reads", l.Root["level"], l.Root["timestamp"])
	}
	var raw struct {
		AWS struct{ Timestamp int64 } `json:"_aws"`
	}
	_ = json.Unmarshal(buf.Bytes(), &raw)
	if raw.AWS.Timestamp != e.now().UnixMilli() {
		t.Errorf("_aws.Timestamp %d", raw.AWS.Timestamp)
	}
}

func TestEmit_DropsNonFiniteAndDuplicateValuesAndLinesWithoutMetrics(t *testing.T) {
	var buf bytes.Buffer
	e := New(&buf, "")
	e.Emit([]Dimension{{"Function", "login"}}, Metric{"Bad", Count, math.NaN()}, Metric{"Inf", Count, math.Inf(1)})
	e.Emit([]Dimension{{"Function", "login"}})
	if buf.Len() != 0 {
		t.Fatalf("wrote %q", buf.String())
	}
	e.Emit([]Dimension{{"Function", "login"}, {"level", "x"}, {"Empty", ""}},
		Metric{"Function", Count, 1}, Metric{"LoginFailures", Count, 1}, Metric{"LoginFailures", Count, 2})
	lines := emftest.Lines(t, buf.Bytes())
	if len(lines) != 1 {
		t.Fatalf("lines %v", lines)
	}
	l := lines[0]
	if l.Namespace != DefaultNamespace || len(l.Dimensions) != 1 || l.Dimensions["Function"] != "login" || len(l.Metrics) != 1 || l.Metrics["LoginFailures"] != 1 {
		t.Errorf("%+v", l)
	}
}

func TestEmit_ConcurrentLinesNeverInterleave(t *testing.T) {
	var buf bytes.Buffer
	e := New(&buf, "")
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				e.Emit([]Dimension{{"Function", "message"}}, Metric{"Frames", Count, float64(i)})
			}
		}()
	}
	wg.Wait()
	if n := len(emftest.Lines(t, buf.Bytes())); n != 1000 {
		t.Errorf("%d valid lines of 1000", n)
	}
}

func TestNilEmitterWritesToStdout(t *testing.T) {
	var e *Emitter
	e.Emit(nil) // no metric: nothing written, and no panic on the nil receiver
}
