package samtemplate

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// alarm is an AWS::CloudWatch::Alarm reduced to what the rules look at.
type alarm struct {
	id      string
	props   map[string]any
	metrics []alarmMetric // the single metric, or each MetricStat of a math alarm
}

type alarmMetric struct {
	namespace, name string
	dims            map[string]any // name -> value (scalar or intrinsic)
}

func alarms(t *testing.T, tpl *Template) []alarm {
	t.Helper()
	var out []alarm
	for _, id := range tpl.ResourcesOfType("AWS::CloudWatch::Alarm") {
		p := tpl.Resources[id].Properties
		a := alarm{id: id, props: p}
		add := func(ns any, name any, dims any) {
			m := alarmMetric{namespace: namespaceOf(ns), name: asString(name), dims: map[string]any{}}
			for _, d := range asSlice(dims) {
				m.dims[asString(asMap(d)["Name"])] = asMap(d)["Value"]
			}
			a.metrics = append(a.metrics, m)
		}
		if p["MetricName"] != nil {
			add(p["Namespace"], p["MetricName"], p["Dimensions"])
		}
		for _, q := range asSlice(p["Metrics"]) {
			if ms := asMap(asMap(q)["MetricStat"]); ms != nil {
				m := asMap(ms["Metric"])
				add(m["Namespace"], m["MetricName"], m["Dimensions"])
			}
		}
		if len(a.metrics) == 0 {
			t.Errorf("alarm %s watches no metric", id)
		}
		out = append(out, a)
	}
	return out
}

// ownNamespace is how the template names the functions' EMF namespace.
const ownNamespace = "ragchat/${AWS::StackName}"

func namespaceOf(v any) string {
	if s := asString(asMap(v)["Fn::Sub"]); s != "" {
		return s
	}
	return asString(v)
}

// watching returns the alarms with a metric of namespace and name whose
// dimension dim is !Ref target.
func watching(as []alarm, namespace, name, dim, target string) []alarm {
	var out []alarm
	for _, a := range as {
		for _, m := range a.metrics {
			if m.namespace == namespace && m.name == name && refName(m.dims[dim]) == target {
				out = append(out, a)
				break
			}
		}
	}
	return out
}

func TestTemplate_EveryFunctionHasErrorsThrottlesAndDurationAlarms(t *testing.T) {
	tpl := loadRepoTemplate(t)
	as := alarms(t, tpl)
	fns, err := tpl.Functions()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fns {
		for _, metric := range []string{"Errors", "Throttles", "Duration"} {
			found := watching(as, "AWS/Lambda", metric, "FunctionName", f.LogicalID)
			if len(found) == 0 {
				t.Errorf("%s has no %s alarm", f.LogicalID, metric)
				continue
			}
			if metric != "Duration" {
				continue
			}
			p := found[0].props
			want := float64(f.Timeout.Milliseconds()) * 0.9
			got, _ := strconv.ParseFloat(scalar(p["Threshold"]), 64)
			if got != want || asString(p["Statistic"]) != "Maximum" {
				t.Errorf("%s duration alarm: %s of %v ms, want Maximum at 90%% of its %v timeout (%v ms)", f.LogicalID, p["Statistic"], p["Threshold"], f.Timeout, want)
			}
		}
	}
}

func TestTemplate_EveryTableHasAThrottlingAlarm(t *testing.T) {
	tpl := loadRepoTemplate(t)
	as := alarms(t, tpl)
	for _, id := range tpl.ResourcesOfType("AWS::DynamoDB::Table") {
		r := watching(as, "AWS/DynamoDB", "ReadThrottleEvents", "TableName", id)
		w := watching(as, "AWS/DynamoDB", "WriteThrottleEvents", "TableName", id)
		if len(r) == 0 || len(w) == 0 || r[0].id != w[0].id {
			t.Errorf("%s has no alarm on its read and write throttle events", id)
		}
	}
}

func TestTemplate_TheAPIAndAnswerAlarmsExist(t *testing.T) {
	tpl := loadRepoTemplate(t)
	as := alarms(t, tpl)
	for _, w := range []struct{ ns, metric, dim, target string }{
		{"AWS/ApiGateway", "5xx", "ApiId", "HttpApi"},
		{"AWS/ApiGateway", "IntegrationError", "ApiId", "WebSocketApi"},
		{"AWS/ApiGateway", "ExecutionError", "ApiId", "WebSocketApi"},
	} {
		if len(watching(as, w.ns, w.metric, w.dim, w.target)) == 0 {
			t.Errorf("no alarm on %s %s of %s", w.ns, w.metric, w.target)
		}
	}
	// The shares: a math alarm over two of the functions' own metrics.
	share := func(num, den string, numDims map[string]string) {
		for _, a := range as {
			var hasNum, hasDen bool
			for _, m := range a.metrics {
				if m.namespace != ownNamespace {
					continue
				}
				ok := true
				for k, v := range numDims {
					ok = ok && scalar(m.dims[k]) == v
				}
				hasNum = hasNum || (m.name == num && ok)
				hasDen = hasDen || m.name == den
			}
			if hasNum && hasDen {
				return
			}
		}
		t.Errorf("no alarm on the share %s / %s %v", num, den, numDims)
	}
	share("AnswerRagFailures", "Answers", nil)
	share("PostErrors", "AnswerPosts", map[string]string{"Status": "429"})
}

var runbookRef = regexp.MustCompile(`Runbook: docs/operations\.md#([a-z0-9-]+)`)

// anchors returns the GitHub anchors of the headings of a Markdown file.
func anchors(t *testing.T, path string) map[string]bool {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, line := range strings.Split(string(data), "\n") {
		h, ok := strings.CutPrefix(line, "#")
		if !ok {
			continue
		}
		h = strings.ToLower(strings.TrimSpace(strings.TrimLeft(h, "#")))
		h = regexp.MustCompile(`[^a-z0-9 -]`).ReplaceAllString(h, "")
		out[strings.ReplaceAll(h, " ", "-")] = true
	}
	return out
}

func TestTemplate_EveryAlarmNotifiesTheTopicAndHasARunbook(t *testing.T) {
	tpl := loadRepoTemplate(t)
	heads := anchors(t, filepath.Join("..", "..", "docs", "operations.md"))
	for _, a := range alarms(t, tpl) {
		for _, key := range []string{"AlarmActions", "OKActions"} {
			if !slices.ContainsFunc(asSlice(a.props[key]), func(v any) bool { return refName(v) == "AlarmTopic" }) {
				t.Errorf("alarm %s: %s does not notify AlarmTopic", a.id, key)
			}
		}
		if asString(a.props["TreatMissingData"]) != "notBreaching" {
			t.Errorf("alarm %s: TreatMissingData %v, want notBreaching (no traffic is no failure)", a.id, a.props["TreatMissingData"])
		}
		m := runbookRef.FindStringSubmatch(asString(a.props["AlarmDescription"]))
		if m == nil {
			t.Errorf("alarm %s: description %q names no runbook section", a.id, a.props["AlarmDescription"])
		} else if !heads[m[1]] {
			t.Errorf("alarm %s: docs/operations.md has no section #%s", a.id, m[1])
		}
	}
	if refName(tpl.Resources["AlarmEmailSubscription"].Properties["TopicArn"]) != "AlarmTopic" {
		t.Error("the optional e-mail subscription is not on AlarmTopic")
	}
}

// dashboard returns the dashboard's body, parsed, with every ${...} of its
// Fn::Sub replaced by its name.
func dashboard(t *testing.T, tpl *Template) (map[string]any, string) {
	t.Helper()
	ids := tpl.ResourcesOfType("AWS::CloudWatch::Dashboard")
	if len(ids) != 1 {
		t.Fatalf("dashboards %v, want one", ids)
	}
	raw := asString(asMap(tpl.Resources[ids[0]].Properties["DashboardBody"])["Fn::Sub"])
	body, err := tpl.Resolve(map[string]any{"Fn::Sub": raw}, func(ref string) (string, bool) {
		_, isParam := tpl.Parameters[ref]
		_, isRes := tpl.Resources[strings.TrimSuffix(ref, ".Arn")]
		return ref, isParam || isRes || pseudoParams[ref]
	})
	if err != nil {
		t.Fatalf("dashboard body: %v", err)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatalf("dashboard body is not JSON: %v", err)
	}
	return doc, body
}

func TestTemplate_TheDashboardShowsEveryFunctionAndTable(t *testing.T) {
	tpl := loadRepoTemplate(t)
	doc, body := dashboard(t, tpl)
	if n := len(asSlice(doc["widgets"])); n < 10 {
		t.Errorf("%d widgets", n)
	}
	for _, typ := range []string{"AWS::Serverless::Function", "AWS::DynamoDB::Table"} {
		for _, id := range tpl.ResourcesOfType(typ) {
			if !strings.Contains(body, `"`+id+`"`) {
				t.Errorf("the dashboard does not show %s", id)
			}
		}
	}
}

// ownMetricNames returns the names of the functions' own metrics that the
// alarms and the dashboard read.
func ownMetricNames(t *testing.T, tpl *Template) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	for _, a := range alarms(t, tpl) {
		for _, m := range a.metrics {
			if m.namespace == ownNamespace {
				names[m.name] = true
			}
		}
	}
	_, body := dashboard(t, tpl)
	ns := strings.NewReplacer("${", "", "}", "").Replace(ownNamespace)
	for _, m := range regexp.MustCompile(`\[\s*"`+regexp.QuoteMeta(ns)+`",\s*"(\w+)"`).FindAllStringSubmatch(body, -1) {
		names[m[1]] = true
	}
	for _, m := range regexp.MustCompile(`MetricName=\\"(\w+)\\"`).FindAllStringSubmatch(body, -1) {
		names[m[1]] = true
	}
	return names
}

func TestTemplate_TheMetricsAlarmsAndDashboardReadAreWrittenByTheFunctions(t *testing.T) {
	tpl := loadRepoTemplate(t)
	names := ownMetricNames(t, tpl)
	if len(names) < 10 {
		t.Fatalf("only %d own metrics found: %v", len(names), names)
	}
	var code strings.Builder
	files, _ := filepath.Glob(filepath.Join("..", "..", "functions", "*", "handler", "*.go"))
	shared, _ := filepath.Glob(filepath.Join("..", "..", "shared", "*", "*.go"))
	for _, f := range append(files, shared...) {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		code.Write(data)
	}
	for name := range names {
		if !strings.Contains(code.String(), fmt.Sprintf("Name: %q", name)) {
			t.Errorf("metric %s is read by an alarm or the dashboard, but no function or shared package writes it", name)
		}
	}
}
