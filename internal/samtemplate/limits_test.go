package samtemplate

import (
	"regexp"
	"slices"
	"testing"
)

// TestTemplate_AbuseLimitsAreParametersWithTheDocumentedDefaults pins
// DESIGN.md's defaults and that every function gets them in its
// environment.
func TestTemplate_AbuseLimitsAreParametersWithTheDocumentedDefaults(t *testing.T) {
	tpl := loadRepoTemplate(t)
	want := map[string]struct{ param, def string }{
		"LOGIN_MAX_FAILURES":        {"LoginMaxFailures", "5"},
		"LOGIN_SOURCE_MAX_FAILURES": {"LoginSourceMaxFailures", "30"},
		"LOGIN_WINDOW":              {"LoginWindow", "15m"},
		"QUESTION_BURST":            {"QuestionBurst", "30"},
		"QUESTIONS_PER_MINUTE":      {"QuestionsPerMinute", "10"},
		"MAX_ROOM_CONNECTIONS":      {"MaxRoomConnections", "10"},
		"ROOMS_PER_HOUR":            {"RoomsPerHour", "20"},
	}
	fns, err := tpl.Functions()
	if err != nil {
		t.Fatal(err)
	}
	for env, w := range want {
		p, ok := tpl.Parameters[w.param]
		if !ok || p.Default != w.def {
			t.Errorf("parameter %s = %+v, want default %s", w.param, p, w.def)
		}
		for _, f := range fns {
			v, err := tpl.Resolve(f.Environment[env], tpl.paramLookup)
			if err != nil || v != w.def {
				t.Errorf("%s: %s = %q (%v), want %s from %s", f.LogicalID, env, v, err, w.def, w.param)
			}
		}
	}
}

// TestTemplate_MessageFunctionUpdatesOnlyItsRoomAttributes pins the
// dynamodb:Attributes condition on the message function's Rooms updates.
func TestTemplate_MessageFunctionUpdatesOnlyItsRoomAttributes(t *testing.T) {
	tpl, fn := repoFunction(t, "MessageFunction")
	found := false
	for _, sm := range statements(fn) {
		res, _ := tpl.Resolve(sm["Resource"], func(ref string) (string, bool) { return "{" + ref + "}", true })
		if res != "{RoomsTable.Arn}" || !slices.Contains(asSlice(sm["Action"]), any("dynamodb:UpdateItem")) {
			continue
		}
		found = true
		attrs := asSlice(asMap(asMap(sm["Condition"])["ForAllValues:StringEquals"])["dynamodb:Attributes"])
		for _, a := range []any{"roomId", "lastActivityAt", "answeringId", "answeringUntil"} {
			if !slices.Contains(attrs, a) {
				t.Errorf("dynamodb:Attributes %v lacks %v", attrs, a)
			}
		}
		for _, a := range []any{"assignedAgent", "members", "userId", "companyId", "ownerKey", "createdAt"} {
			if slices.Contains(attrs, a) {
				t.Errorf("dynamodb:Attributes %v allows %v", attrs, a)
			}
		}
	}
	if !found {
		t.Fatal("MessageFunction has no UpdateItem statement on RoomsTable")
	}
}

// TestTemplate_ConnectMayOnlyAskWhetherSocketsOfThisAPIAreOpen pins the
// connect function's @connections grant: GET, on this API's stage.
func TestTemplate_ConnectMayOnlyAskWhetherSocketsOfThisAPIAreOpen(t *testing.T) {
	tpl, fn := repoFunction(t, "ConnectFunction")
	var grants []string
	for _, sm := range statements(fn) {
		if !slices.Contains(asSlice(sm["Action"]), any("execute-api:ManageConnections")) {
			continue
		}
		res, err := tpl.Resolve(sm["Resource"], func(ref string) (string, bool) { return "{" + ref + "}", true })
		if err != nil {
			t.Fatal(err)
		}
		grants = append(grants, res)
	}
	want := "arn:{AWS::Partition}:execute-api:{AWS::Region}:{AWS::AccountId}:{WebSocketApi}/{StageName}/GET/@connections/*"
	if len(grants) != 1 || grants[0] != want {
		t.Fatalf("ConnectFunction's @connections grants %v, want exactly %s", grants, want)
	}
}

func TestTemplate_RagUrlMustBeHTTPSWithoutCredentials(t *testing.T) {
	p := loadRepoTemplate(t).Parameters["RagUrl"]
	re, err := regexp.Compile(p.AllowedPattern)
	if err != nil {
		t.Fatalf("RagUrl AllowedPattern %q: %v", p.AllowedPattern, err)
	}
	for url, ok := range map[string]bool{
		"https://rag.example.com":          true,
		"https://rag.internal:8443/base":   true,
		"http://rag.example.com":           false,
		"https://user:pw@rag.example.com":  false,
		"https://rag.example.com/?k=v":     false,
		"ftp://rag.example.com":            false,
		"https://rag.example.com/a b":      false,
		"HTTPS://rag.example.com":          false,
		"https://rag.example.com#fragment": false,
	} {
		if re.MatchString(url) != ok {
			t.Errorf("RagUrl %q accepted = %v, want %v", url, !ok, ok)
		}
	}
}
