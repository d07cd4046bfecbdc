package samtemplate

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ragchat/ragchat/shared/config"
)

func loadRepoTemplate(t *testing.T) *Template {
	t.Helper()
	tpl, err := LoadRoot()
	if err != nil {
		t.Fatal(err)
	}
	return tpl
}

var pseudoParams = map[string]bool{
	"AWS::AccountId": true, "AWS::NotificationARNs": true, "AWS::NoValue": true, "AWS::Partition": true,
	"AWS::Region": true, "AWS::StackId": true, "AWS::StackName": true, "AWS::URLSuffix": true,
}

// walk calls fn on every intrinsic reference found in v: Ref targets,
// GetAtt resource names and the names inside Fn::Sub strings.
func walk(v any, fn func(ref string)) {
	switch x := v.(type) {
	case map[string]any:
		for k, arg := range x {
			switch k {
			case "Ref":
				fn(asString(arg))
				continue
			case "Fn::GetAtt":
				fn(asString(asSlice(arg)[0]))
				continue
			case "Fn::Sub":
				s, vars := asString(arg), map[string]any{}
				if l := asSlice(arg); l != nil {
					s, vars = asString(l[0]), asMap(l[1])
					walk(l[1], fn)
				}
				for _, m := range subRef.FindAllStringSubmatch(s, -1) {
					name, _, _ := strings.Cut(m[1], ".")
					if _, local := vars[m[1]]; !local && !strings.HasPrefix(m[1], "!") {
						if strings.HasPrefix(m[1], "AWS::") {
							name = m[1]
						}
						fn(name)
					}
				}
				continue
			}
			walk(arg, fn)
		}
	case []any:
		for _, it := range x {
			walk(it, fn)
		}
	}
}

func TestTemplate_EveryReferenceExists(t *testing.T) {
	tpl := loadRepoTemplate(t)
	check := func(where string) func(string) {
		return func(ref string) {
			_, isParam := tpl.Parameters[ref]
			_, isRes := tpl.Resources[ref]
			if !isParam && !isRes && !pseudoParams[ref] {
				t.Errorf("%s refers to %q, which is no parameter, resource or pseudo parameter", where, ref)
			}
		}
	}
	walk(tpl.Globals, check("Globals"))
	walk(tpl.Outputs, check("Outputs"))
	for id, r := range tpl.Resources {
		walk(r.Properties, check(id))
		for _, d := range r.DependsOn {
			check(id + " DependsOn")(d)
		}
	}
}

func TestTemplate_FunctionsAreBuiltByTheMakefileForArm64(t *testing.T) {
	tpl := loadRepoTemplate(t)
	fns, err := tpl.Functions()
	if err != nil {
		t.Fatal(err)
	}
	makefile, err := os.ReadFile(filepath.Join("..", "..", "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, f := range fns {
		ids = append(ids, f.LogicalID)
		if f.Runtime != "provided.al2023" || f.Handler != "bootstrap" || !slices.Equal(f.Architectures, []string{"arm64"}) {
			t.Errorf("%s: runtime %q handler %q arch %v, want provided.al2023 bootstrap [arm64]", f.LogicalID, f.Runtime, f.Handler, f.Architectures)
		}
		if asString(f.Metadata["BuildMethod"]) != "makefile" {
			t.Errorf("%s: Metadata.BuildMethod is not makefile", f.LogicalID)
		}
		if !regexp.MustCompile(`(?m)^build-` + f.LogicalID + `:`).Match(makefile) {
			t.Errorf("Makefile has no build-%s target", f.LogicalID)
		}
		if f.Timeout <= 0 || f.MemorySize < 128 {
			t.Errorf("%s: timeout %v memory %d", f.LogicalID, f.Timeout, f.MemorySize)
		}
	}
	want := []string{"LoginFunction", "ChatbotFunction", "ConnectFunction", "DisconnectFunction", "HistoryFunction", "MessageFunction", "AgentFunction"}
	if !slices.Equal(ids, want) {
		t.Errorf("functions %v, want %v", ids, want)
	}
}

// repoTables returns the repository's template and its tables.
func repoTables(t *testing.T) (*Template, []Table) {
	t.Helper()
	tpl := loadRepoTemplate(t)
	tables, err := tpl.Tables()
	if err != nil {
		t.Fatal(err)
	}
	return tpl, tables
}

// repoFunction returns the repository's template and its function id.
func repoFunction(t *testing.T, id string) (*Template, Function) {
	t.Helper()
	tpl := loadRepoTemplate(t)
	fns, err := tpl.Functions()
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(fns, func(f Function) bool { return f.LogicalID == id })
	if i < 0 {
		t.Fatalf("no %s", id)
	}
	return tpl, fns[i]
}

// statements returns the statements of f's inline policies, in order.
func statements(f Function) []map[string]any {
	var out []map[string]any
	for _, p := range f.Policies {
		for _, st := range asSlice(asMap(p)["Statement"]) {
			out = append(out, asMap(st))
		}
	}
	return out
}

// access lists, per function, the DynamoDB actions it may perform on each
// table (by logical ID, index suffix included) and whether it may manage
// connections.
func access(t *testing.T, tpl *Template, f Function) (map[string][]string, bool) {
	t.Helper()
	tables := map[string][]string{}
	manage := false
	for _, p := range f.Policies {
		for _, st := range asSlice(asMap(p)["Statement"]) {
			sm := asMap(st)
			if asString(sm["Effect"]) != "Allow" {
				continue
			}
			var actions []string
			switch a := sm["Action"].(type) {
			case string:
				actions = []string{a}
			case []any:
				for _, x := range a {
					actions = append(actions, asString(x))
				}
			}
			resources := asSlice(sm["Resource"])
			if resources == nil {
				resources = []any{sm["Resource"]}
			}
			for _, res := range resources {
				s, err := tpl.Resolve(res, func(ref string) (string, bool) { return "{" + ref + "}", true })
				if err != nil {
					t.Fatalf("%s: resource %v: %v", f.LogicalID, res, err)
				}
				for _, a := range actions {
					if a == "*" || a == "dynamodb:*" || strings.Contains(s, "*:*") {
						t.Errorf("%s: wildcard grant %s on %s", f.LogicalID, a, s)
					}
					// GET alone (asking whether a socket is open) posts nothing.
					if a == "execute-api:ManageConnections" && !strings.Contains(s, "/GET/@connections/") {
						manage = true
					}
					if m := regexp.MustCompile(`\{(\w+Table)\.Arn\}(/index/\w+)?`).FindStringSubmatch(s); m != nil && strings.HasPrefix(a, "dynamodb:") {
						key := m[1] + m[2]
						tables[key] = append(tables[key], strings.TrimPrefix(a, "dynamodb:"))
					}
				}
			}
		}
		for name := range asMap(p) {
			if strings.HasPrefix(name, "DynamoDB") {
				t.Errorf("%s uses the broad policy template %s; grant the exact actions instead", f.LogicalID, name)
			}
		}
	}
	return tables, manage
}

func TestTemplate_LeastPrivilege(t *testing.T) {
	tpl := loadRepoTemplate(t)
	fns, err := tpl.Functions()
	if err != nil {
		t.Fatal(err)
	}
	// What each function's code does with each table (see shared/store).
	needs := map[string]map[string][]string{
		"LoginFunction": {
			"UsersTable": {"GetItem"}, "RoomsTable/index/byOwner": {"Query"},
			"LoginAttemptsTable": {"GetItem", "UpdateItem", "DeleteItem"},
		},
		"ChatbotFunction":    {"RoomsTable": {"PutItem"}, "LimitsTable": {"UpdateItem", "GetItem"}, "UsersTable": {"GetItem"}},
		"ConnectFunction":    {"RoomsTable": {"GetItem"}, "ConnectionsTable": {"PutItem", "DeleteItem", "BatchGetItem"}, "UsersTable": {"GetItem"}},
		"DisconnectFunction": {"ConnectionsTable": {"DeleteItem"}},
		"MessageFunction": {
			"ConnectionsTable": {"GetItem", "DeleteItem", "UpdateItem"}, "ConnectionsTable/index/byRoom": {"Query"},
			"MessagesTable": {"PutItem", "GetItem", "DeleteItem"}, "RoomsTable": {"GetItem", "UpdateItem"},
			"LimitsTable": {"UpdateItem", "GetItem"}, "UsersTable": {"GetItem"},
		},
		"HistoryFunction": {
			"UsersTable": {"GetItem"}, "RoomsTable": {"GetItem"}, "RoomsTable/index/byOwner": {"Query"}, "MessagesTable": {"Query"},
		},
		"AgentFunction": {
			"UsersTable": {"GetItem"},
			"RoomsTable": {"GetItem", "UpdateItem"}, "MessagesTable": {"PutItem", "Query"},
			"RoomsTable/index/byStatus": {"Query"}, "RoomsTable/index/byWaiting": {"Query"},
			"ConnectionsTable": {"DeleteItem"}, "ConnectionsTable/index/byRoom": {"Query"},
		},
	}
	writes := []string{"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem"}
	for _, f := range fns {
		got, manage := access(t, tpl, f)
		for table, actions := range needs[f.LogicalID] {
			for _, a := range actions {
				if !slices.Contains(got[table], a) {
					t.Errorf("%s needs %s on %s but may not", f.LogicalID, a, table)
				}
			}
		}
		for table, actions := range got {
			for _, a := range actions {
				if !slices.Contains(needs[f.LogicalID][table], a) {
					t.Errorf("%s may %s on %s, which its code never does", f.LogicalID, a, table)
				}
			}
		}
		// The functions that post to sockets: answers, and handoff's status frames.
		if manage != (f.LogicalID == "MessageFunction" || f.LogicalID == "AgentFunction") {
			t.Errorf("%s: execute-api:ManageConnections granted = %v; only MessageFunction and AgentFunction may", f.LogicalID, manage)
		}
		if f.LogicalID == "LoginFunction" {
			for _, a := range got["RoomsTable"] {
				if slices.Contains(writes, a) {
					t.Errorf("LoginFunction may write Rooms (%s)", a)
				}
			}
		}
	}
}

func TestTemplate_WebSocketRoutesDeploymentAndPermissions(t *testing.T) {
	tpl := loadRepoTemplate(t)
	ws, err := tpl.WebSocket()
	if err != nil {
		t.Fatal(err)
	}
	wantRoutes := map[string]string{
		"$connect": "ConnectFunction", "$disconnect": "DisconnectFunction",
		"sendMessage": "MessageFunction", "handoff": "MessageFunction", "$default": "MessageFunction",
	}
	if len(ws.Routes) != len(wantRoutes) {
		t.Errorf("routes %v, want %v", ws.Routes, wantRoutes)
	}
	for k, fn := range wantRoutes {
		if ws.Routes[k] != fn {
			t.Errorf("route %s -> %q, want %s", k, ws.Routes[k], fn)
		}
	}
	// ping costs no Lambda: a MOCK integration answering through its route response.
	if !reflect.DeepEqual(ws.Mocks, map[string]string{"ping": `{"type":"pong"}`}) {
		t.Errorf("mock routes %v, want ping answering {\"type\":\"pong\"}", ws.Mocks)
	}
	if ws.RouteSelectionExpression != "$request.body.action" || ws.Stage != "prod" {
		t.Errorf("selection %q stage %q", ws.RouteSelectionExpression, ws.Stage)
	}

	routes := tpl.ResourcesOfType("AWS::ApiGatewayV2::Route")
	for _, dep := range tpl.ResourcesOfType("AWS::ApiGatewayV2::Deployment") {
		for _, r := range routes {
			if !slices.Contains(tpl.Resources[dep].DependsOn, r) {
				t.Errorf("deployment %s does not depend on route %s", dep, r)
			}
		}
	}
	for _, st := range tpl.ResourcesOfType("AWS::ApiGatewayV2::Stage") {
		s := asMap(tpl.Resources[st].Properties["DefaultRouteSettings"])
		if s["ThrottlingBurstLimit"] == nil || s["ThrottlingRateLimit"] == nil {
			t.Errorf("stage %s has no throttling", st)
		}
	}
	if s := asMap(tpl.Resources["HttpApi"].Properties["DefaultRouteSettings"]); s["ThrottlingRateLimit"] == nil {
		t.Error("HttpApi has no throttling")
	}

	// One permission per route key, scoped to this API and that route.
	permitted := map[string]string{}
	for _, id := range tpl.ResourcesOfType("AWS::Lambda::Permission") {
		p := tpl.Resources[id].Properties
		arn, err := tpl.Resolve(p["SourceArn"], func(ref string) (string, bool) { return "{" + ref + "}", true })
		if err != nil {
			t.Fatal(err)
		}
		prefix := "arn:{AWS::Partition}:execute-api:{AWS::Region}:{AWS::AccountId}:{" + ws.LogicalID + "}/*/"
		route, ok := strings.CutPrefix(arn, prefix)
		if !ok || strings.Contains(route, "*") {
			t.Errorf("permission %s SourceArn %s is not scoped to one route of %s", id, arn, ws.LogicalID)
		}
		permitted[route] = refName(p["FunctionName"])
	}
	for k, fn := range wantRoutes {
		if permitted[k] != fn {
			t.Errorf("route %s: permission for %q, want %s", k, permitted[k], fn)
		}
	}
}

func TestTemplate_HttpApiComesBeforeWebSocketResources(t *testing.T) {
	tpl := loadRepoTemplate(t)
	order := tpl.ResourceOrder()
	httpAt := slices.Index(order, "HttpApi")
	for i, id := range order {
		if strings.HasPrefix(tpl.Resources[id].Type, "AWS::ApiGatewayV2::") && i < httpAt {
			t.Errorf("%s comes before the HttpApi", id)
		}
	}
	routes, err := tpl.HTTPRoutes()
	if err != nil {
		t.Fatal(err)
	}
	want := []HTTPRoute{
		{Function: "LoginFunction", Method: "POST", Path: "/api/customer/{companyId}/login"},
		{Function: "ChatbotFunction", Method: "POST", Path: "/api/customer/chatbot"},
	}
	for _, w := range want {
		if !slices.Contains(routes, w) {
			t.Errorf("HTTP routes %v lack %v", routes, w)
		}
	}
}

func TestTemplate_TablesHoldingDataAreRetainedAndRecoverable(t *testing.T) {
	tpl, tables := repoTables(t)
	byID := map[string]Table{}
	for _, tb := range tables {
		byID[tb.LogicalID] = tb
		if asString(tpl.Resources[tb.LogicalID].Properties["BillingMode"]) != "PAY_PER_REQUEST" {
			t.Errorf("%s is not on-demand", tb.LogicalID)
		}
	}
	for _, id := range []string{"UsersTable", "RoomsTable", "MessagesTable"} {
		p := tpl.Resources[id].Properties
		if !byID[id].Retain || scalar(asMap(p["PointInTimeRecoverySpecification"])["PointInTimeRecoveryEnabled"]) != "true" {
			t.Errorf("%s: Retain=%v and point-in-time recovery must both be on", id, byID[id].Retain)
		}
	}
	if byID["ConnectionsTable"].TTLAttribute != "expiresAt" || len(byID["ConnectionsTable"].GSIs) != 1 || byID["ConnectionsTable"].GSIs[0].Name != "byRoom" {
		t.Errorf("ConnectionsTable: %+v", byID["ConnectionsTable"])
	}
	rooms := byID["RoomsTable"]
	wantGSIs := map[string][]KeyElement{
		"byOwner":   {{"ownerKey", "HASH"}, {"createdAt", "RANGE"}},
		"byStatus":  {{"statusKey", "HASH"}, {"lastActivityAt", "RANGE"}},
		"byWaiting": {{"waitingKey", "HASH"}, {"waitingSince", "RANGE"}},
	}
	if len(rooms.GSIs) != len(wantGSIs) {
		t.Errorf("RoomsTable GSIs: %+v", rooms.GSIs)
	}
	for _, g := range rooms.GSIs {
		if !slices.Equal(g.KeySchema, wantGSIs[g.Name]) {
			t.Errorf("RoomsTable %s: %+v, want %+v", g.Name, g.KeySchema, wantGSIs[g.Name])
		}
	}
}

func TestTemplate_OutputsGiveTheThreeURLs(t *testing.T) {
	tpl := loadRepoTemplate(t)
	lookup := func(ref string) (string, bool) { return "{" + ref + "}", true }
	for name, prefix := range map[string]string{"HttpApiUrl": "https://", "WebSocketUrl": "wss://", "ConnectionsUrl": "https://"} {
		v, err := tpl.Resolve(asMap(tpl.Outputs[name])["Value"], lookup)
		if err != nil || !strings.HasPrefix(v, prefix) {
			t.Errorf("output %s = %q (%v), want a %s URL", name, v, err, prefix)
		}
	}
	fns, _ := tpl.Functions()
	for _, f := range fns {
		if f.LogicalID == "MessageFunction" && f.Timeout != 120*time.Second {
			t.Errorf("MessageFunction timeout %v", f.Timeout)
		}
	}
}

func TestResolve_IntrinsicFunctions(t *testing.T) {
	tpl, err := Parse([]byte(`
Parameters:
  Stage: {Type: String, Default: dev}
Resources:
  Q: {Type: AWS::SQS::Queue}
Outputs:
  A: {Value: !Sub "https://${Q}.${AWS::Region}/${Stage}/${!Literal}"}
  B: {Value: !Sub ["${X}-${Q.Arn}", {X: !Ref Stage}]}
  C: {Value: !Join ["/", [a, !Ref Stage, !GetAtt Q.Arn]]}
  D: {Value: !Ref Missing}
  E: {Value: 3}
`))
	if err != nil {
		t.Fatal(err)
	}
	lookup := func(ref string) (string, bool) {
		m := map[string]string{"Q": "q1", "Q.Arn": "arn:q1", "AWS::Region": "eu-west-1", "Stage": tpl.Params["Stage"]}
		v, ok := m[ref]
		return v, ok
	}
	cases := map[string]string{
		"A": "https://q1.eu-west-1/dev/${Literal}",
		"B": "dev-arn:q1",
		"C": "a/dev/arn:q1",
		"E": "3",
	}
	for out, want := range cases {
		got, err := tpl.Resolve(asMap(tpl.Outputs[out])["Value"], lookup)
		if err != nil || got != want {
			t.Errorf("%s = %q (%v), want %q", out, got, err, want)
		}
	}
	if _, err := tpl.Resolve(asMap(tpl.Outputs["D"])["Value"], lookup); err == nil {
		t.Error("a reference to nothing resolved")
	}
}

func TestTemplate_GlobalsNameEveryTableOnce(t *testing.T) {
	tpl, tables := repoTables(t)
	named := map[string]string{}
	for variable, id := range tpl.TableVariables() {
		if other, ok := named[id]; ok {
			t.Errorf("%s and %s both name %s", variable, other, id)
		}
		named[id] = variable
	}
	for _, tb := range tables {
		if named[tb.LogicalID] == "" {
			t.Errorf("table %s is named by no Globals variable", tb.LogicalID)
		}
	}
	got := config.TablesFrom(tpl.TableNames(func(id string) string { return "p-" + id }))
	if missing := got.Missing(); len(missing) > 0 {
		t.Fatalf("the Globals name no table for %v", missing)
	}
	if got.Users != "p-UsersTable" || got.LoginAttempts != "p-LoginAttemptsTable" {
		t.Errorf("tables %+v", got)
	}
	if lookup := tpl.TableNames(func(id string) string { return id }); lookup("RAG_URL") != "" || lookup("NO_SUCH") != "" {
		t.Error("a variable that names no table looked up to a name")
	}
}
