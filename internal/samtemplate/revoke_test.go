package samtemplate

import (
	"slices"
	"testing"
)

// TestTemplate_MessageFunctionMayOnlyExpireConnections pins the
// dynamodb:Attributes condition on the message function's Connections
// updates: a revoked socket's connection gets its expiresAt, nothing else
// of it changes (its room, user, role or token version).
func TestTemplate_MessageFunctionMayOnlyExpireConnections(t *testing.T) {
	tpl, fn := repoFunction(t, "MessageFunction")
	var grants [][]any
	for _, sm := range statements(fn) {
		res, _ := tpl.Resolve(sm["Resource"], func(ref string) (string, bool) { return "{" + ref + "}", true })
		if res == "{ConnectionsTable.Arn}" && slices.Contains(asSlice(sm["Action"]), any("dynamodb:UpdateItem")) {
			grants = append(grants, asSlice(asMap(asMap(sm["Condition"])["ForAllValues:StringEquals"])["dynamodb:Attributes"]))
		}
	}
	if len(grants) != 1 || !slices.Equal(grants[0], []any{"connectionId", "expiresAt"}) {
		t.Fatalf("MessageFunction's UpdateItem grants on ConnectionsTable limited to %v, want exactly one, to [connectionId expiresAt]", grants)
	}
}
