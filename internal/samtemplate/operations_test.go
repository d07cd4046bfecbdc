package samtemplate

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The rules that make the deployed stack operable (issue 12), written over
// every resource of a type so that functions, routes and parameters added
// later are held to them too.

func TestTemplate_WebSocketStageAutoDeploysEveryRouteAndIntegration(t *testing.T) {
	tpl := loadRepoTemplate(t)
	if d := tpl.ResourcesOfType("AWS::ApiGatewayV2::Deployment"); len(d) != 0 {
		t.Errorf("deployments %v: CloudFormation never replaces them, so later route changes would not reach the stage; use the stage's AutoDeploy", d)
	}
	stages := tpl.ResourcesOfType("AWS::ApiGatewayV2::Stage")
	if len(stages) != 1 {
		t.Fatalf("stages %v, want the one WebSocket stage", stages)
	}
	st := tpl.Resources[stages[0]]
	if scalar(st.Properties["AutoDeploy"]) != "true" || st.Properties["DeploymentId"] != nil {
		t.Errorf("stage %s: AutoDeploy %v DeploymentId %v, want AutoDeploy true and no DeploymentId", st.LogicalID, st.Properties["AutoDeploy"], st.Properties["DeploymentId"])
	}
	for _, r := range tpl.ResourcesOfType("AWS::ApiGatewayV2::Route") {
		if !slices.Contains(st.DependsOn, r) {
			t.Errorf("stage %s does not depend on route %s", st.LogicalID, r)
		}
	}
	for _, id := range tpl.ResourcesOfType("AWS::ApiGatewayV2::Integration") {
		p := tpl.Resources[id].Properties
		if asString(p["IntegrationType"]) == "AWS_PROXY" && asString(p["IntegrationMethod"]) != "POST" {
			t.Errorf("integration %s: IntegrationMethod %v, want POST (Lambda is invoked with POST)", id, p["IntegrationMethod"])
		}
	}
}

// accessLogFormats returns the access-log format of the HttpApi and of the
// WebSocket stage (with its Fn::If for the account role unwrapped).
func accessLogFormats(t *testing.T, tpl *Template) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, id := range tpl.ResourcesOfType("AWS::Serverless::HttpApi") {
		out[id] = asString(asMap(tpl.Resources[id].Properties["AccessLogSettings"])["Format"])
	}
	for _, id := range tpl.ResourcesOfType("AWS::ApiGatewayV2::Stage") {
		s := asMap(tpl.Resources[id].Properties["AccessLogSettings"])
		if args := asSlice(s["Fn::If"]); len(args) == 3 {
			s = asMap(args[1])
		}
		out[id] = asString(s["Format"])
	}
	return out
}

var contextVar = regexp.MustCompile(`\$[A-Za-z][A-Za-z0-9_.]*`)

func TestTemplate_AccessLogsAreJSONWithTheFieldsAndNoQueryStringSecrets(t *testing.T) {
	tpl := loadRepoTemplate(t)
	formats := accessLogFormats(t, tpl)
	if len(formats) != 2 {
		t.Fatalf("access-log formats %v, want the HttpApi's and the WebSocket stage's", formats)
	}
	for id, f := range formats {
		if f == "" {
			t.Errorf("%s has no access log", id)
			continue
		}
		// Every variable must be $context.*: $request.querystring.token,
		// $input.params('password') and the like would log secrets.
		for _, v := range contextVar.FindAllString(f, -1) {
			if !strings.HasPrefix(v, "$context.") {
				t.Errorf("%s logs %s; only $context variables may be logged", id, v)
			}
			lower := strings.ToLower(v)
			for _, bad := range []string{"querystring", "token", "password", "authorizer", "requestoverride", "header", "body"} {
				if strings.Contains(lower, bad) {
					t.Errorf("%s logs %s, which can carry a secret or a message", id, v)
				}
			}
		}
		var fields map[string]string
		if err := json.Unmarshal([]byte(contextVar.ReplaceAllString(f, "x")), &fields); err != nil {
			t.Errorf("%s access-log format is not one JSON object of strings: %v", id, err)
		}
		want := []string{"$context.requestId", "$context.routeKey", "$context.status"}
		if id == "HttpApi" {
			want = append(want, "$context.responseLatency")
		} else {
			want = append(want, "$context.connectionId", "$context.integrationLatency")
		}
		for _, w := range want {
			if !strings.Contains(f, `"`+w+`"`) {
				t.Errorf("%s access log lacks %s", id, w)
			}
		}
	}
	st := tpl.Resources["WebSocketStage"].Properties
	if args := asSlice(asMap(st["AccessLogSettings"])["Fn::If"]); len(args) != 3 || asString(args[0]) != "WebSocketLoggingEnabled" {
		t.Errorf("WebSocket access log %v: must depend on the WebSocketLogging parameter (it needs the account's API Gateway CloudWatch role)", st["AccessLogSettings"])
	}
	if scalar(asMap(st["DefaultRouteSettings"])["DataTraceEnabled"]) != "false" {
		t.Error("WebSocket stage: DataTraceEnabled must be false (it logs whole messages, tokens included)")
	}
}

func TestTemplate_LogGroupsKeepLogsForTheRetentionParameter(t *testing.T) {
	tpl := loadRepoTemplate(t)
	p := tpl.Parameters["LogRetentionDays"]
	if p.Default != "30" {
		t.Errorf("LogRetentionDays default %q, want 30", p.Default)
	}
	groups := tpl.ResourcesOfType("AWS::Logs::LogGroup")
	fns, err := tpl.Functions()
	if err != nil {
		t.Fatal(err)
	}
	if len(groups) < len(fns)+2 {
		t.Errorf("%d log groups for %d functions and two APIs", len(groups), len(fns))
	}
	for _, id := range groups {
		if refName(tpl.Resources[id].Properties["RetentionInDays"]) != "LogRetentionDays" {
			t.Errorf("log group %s: RetentionInDays %v, want !Ref LogRetentionDays", id, tpl.Resources[id].Properties["RetentionInDays"])
		}
	}
	for _, id := range tpl.ResourcesOfType("AWS::Serverless::Function") {
		lc := asMap(tpl.Resources[id].Properties["LoggingConfig"])
		if g := refName(lc["LogGroup"]); !slices.Contains(groups, g) {
			t.Errorf("%s: LoggingConfig.LogGroup %v is not one of the template's log groups", id, lc["LogGroup"])
		}
	}
}

// durationLike and urlLike pick out the parameters that need an
// AllowedPattern, by their default or their name.
func durationLike(name string, p Parameter) bool {
	if _, err := time.ParseDuration(p.Default); err == nil && p.Default != "0" {
		return true
	}
	return regexp.MustCompile(`(Ttl|Timeout|Interval|Margin|Duration|Delay|Window)$`).MatchString(name)
}

func urlLike(name string) bool {
	return regexp.MustCompile(`(Url|URL|Uri|Endpoint)$`).MatchString(name)
}

func TestTemplate_DurationAndURLParametersHaveAllowedPatterns(t *testing.T) {
	tpl := loadRepoTemplate(t)
	checked := 0
	for name, p := range tpl.Parameters {
		if p.Type != "String" || !(durationLike(name, p) || urlLike(name)) {
			continue
		}
		checked++
		if p.AllowedPattern == "" {
			t.Errorf("parameter %s has no AllowedPattern: a typo would show as a cold-start crash instead of a deploy error", name)
			continue
		}
		re, err := regexp.Compile(p.AllowedPattern)
		if err != nil {
			t.Errorf("parameter %s: AllowedPattern %q: %v", name, p.AllowedPattern, err)
			continue
		}
		if !strings.HasPrefix(p.AllowedPattern, "^") || !strings.HasSuffix(p.AllowedPattern, "$") {
			t.Errorf("parameter %s: AllowedPattern %q is not anchored", name, p.AllowedPattern)
		}
		if p.HasDefault && !re.MatchString(p.Default) {
			t.Errorf("parameter %s: its default %q does not match its own pattern", name, p.Default)
		}
		bad := []string{"3 s", "abc", "3s;rm", "-1s"}
		if urlLike(name) {
			bad = []string{"rag.example.com", "https://", "https://a b", "ftp://x", "https://user@host/?x=1"}
		}
		for _, b := range bad {
			if re.MatchString(b) {
				t.Errorf("parameter %s accepts %q", name, b)
			}
		}
	}
	if checked < 4 {
		t.Errorf("only %d duration/URL parameters found; the pickers are broken", checked)
	}
}

func TestTemplate_DurationPatternAcceptsWhatConfigParses(t *testing.T) {
	tpl := loadRepoTemplate(t)
	re := regexp.MustCompile(tpl.Parameters["TokenTtl"].AllowedPattern)
	for _, ok := range []string{"0", "50", "50ms", "3s", "1.5s", "12h", "1h30m", "250us"} {
		if !re.MatchString(ok) {
			t.Errorf("duration pattern refuses %q, which shared/config parses", ok)
		}
	}
}

func TestTemplate_CorsOriginsAreAParameterAndBothBranchesAgree(t *testing.T) {
	tpl := loadRepoTemplate(t)
	c := asSlice(asMap(tpl.Resources["HttpApi"].Properties["CorsConfiguration"])["Fn::If"])
	if len(c) != 3 || asString(c[0]) != "CorsAnyOrigin" {
		t.Fatalf("CorsConfiguration %v: want !If [CorsAnyOrigin, ...]", tpl.Resources["HttpApi"].Properties["CorsConfiguration"])
	}
	a, b := asMap(c[1]), asMap(c[2])
	if !reflect.DeepEqual(a["AllowOrigins"], []any{"*"}) {
		t.Errorf("any-origin branch allows %v", a["AllowOrigins"])
	}
	if !strings.Contains(jsonOf(b["AllowOrigins"]), "CorsAllowOrigins") {
		t.Errorf("the other branch's origins %v do not come from CorsAllowOrigins", b["AllowOrigins"])
	}
	for k := range mergeKeys(a, b) {
		if k != "AllowOrigins" && !reflect.DeepEqual(a[k], b[k]) {
			t.Errorf("CORS %s differs between the branches: %v and %v", k, a[k], b[k])
		}
	}
}

func TestTemplate_DataTablesHaveDeletionProtection(t *testing.T) {
	tpl := loadRepoTemplate(t)
	for _, id := range []string{"UsersTable", "RoomsTable", "MessagesTable"} {
		if scalar(tpl.Resources[id].Properties["DeletionProtectionEnabled"]) != "true" {
			t.Errorf("%s: DeletionProtectionEnabled is not true", id)
		}
	}
	for _, id := range tpl.ResourcesOfType("AWS::DynamoDB::Table") {
		if sse := asMap(tpl.Resources[id].Properties["SSESpecification"]); sse != nil {
			t.Errorf("%s: SSESpecification %v; the template states the AWS-owned key (no SSESpecification) as its choice", id, sse)
		}
	}
}

func TestTemplate_MessageFunctionConcurrencyIsAParameter(t *testing.T) {
	tpl := loadRepoTemplate(t)
	p := tpl.Resources["MessageFunction"].Properties["ReservedConcurrentExecutions"]
	if !strings.Contains(jsonOf(p), "MessageReservedConcurrency") || !strings.Contains(jsonOf(p), "AWS::NoValue") {
		t.Errorf("MessageFunction ReservedConcurrentExecutions %v: want MessageReservedConcurrency, none when 0", p)
	}
	for _, v := range []string{"0", "25"} {
		tpl.Params["MessageReservedConcurrency"] = v
		got, err := tpl.Choose(p)
		if err != nil {
			t.Fatal(err)
		}
		if (v == "0") != (jsonOf(got) == jsonOf(noValue)) {
			t.Errorf("MessageReservedConcurrency=%s gives %v", v, got)
		}
	}
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func mergeKeys(ms ...map[string]any) map[string]bool {
	out := map[string]bool{}
	for _, m := range ms {
		for k := range m {
			out[k] = true
		}
	}
	return out
}

// samconfigOverrides returns, per [<env>.deploy.parameters] table of
// samconfig.toml, its parameter_overrides as name -> value.
func samconfigOverrides(t *testing.T) map[string]map[string]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "samconfig.toml"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]string{}
	env := ""
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if m := regexp.MustCompile(`^\[(\w+)\.deploy\.parameters\]$`).FindStringSubmatch(line); m != nil {
			env = m[1]
			out[env] = map[string]string{}
			continue
		}
		if strings.HasPrefix(line, "[") {
			env = ""
		}
		if v, ok := strings.CutPrefix(line, "parameter_overrides = "); ok && env != "" {
			for _, kv := range strings.Fields(strings.Trim(v, `"`)) {
				k, val, _ := strings.Cut(kv, "=")
				out[env][k] = val
			}
		}
	}
	return out
}

func TestSamconfig_DefaultAndProdDeployValidParameters(t *testing.T) {
	tpl := loadRepoTemplate(t)
	envs := samconfigOverrides(t)
	for _, env := range []string{"default", "prod"} {
		params, ok := envs[env]
		if !ok {
			t.Errorf("samconfig.toml has no [%s.deploy.parameters]", env)
			continue
		}
		if !strings.HasPrefix(params["RagUrl"], "https://") {
			t.Errorf("%s: RagUrl override %q, want the https placeholder the README tells to replace", env, params["RagUrl"])
		}
		for name, v := range params {
			p, ok := tpl.Parameters[name]
			if !ok {
				t.Errorf("%s overrides %s, which is no parameter of the template", env, name)
				continue
			}
			if p.AllowedPattern != "" && !regexp.MustCompile(p.AllowedPattern).MatchString(v) {
				t.Errorf("%s: %s=%q does not match its AllowedPattern", env, name, v)
			}
			if len(p.AllowedValues) > 0 && !slices.Contains(p.AllowedValues, v) {
				t.Errorf("%s: %s=%q is not one of %v", env, name, v, p.AllowedValues)
			}
			if p.Type == "Number" {
				if _, err := strconv.ParseFloat(v, 64); err != nil {
					t.Errorf("%s: %s=%q is not a number", env, name, v)
				}
			}
		}
	}
}
