package handler

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ragchat/ragchat/internal/samtemplate"
)

func TestCheckDeadlineMargin_RefusesAMarginThatLeavesNoTimeToAnswerOrToEnd(t *testing.T) {
	tests := []struct {
		margin, timeout time.Duration
		ok              bool
	}{
		{2 * time.Second, 0, true},
		{3 * time.Second, 120 * time.Second, true},
		{117 * time.Second, 120 * time.Second, true},
		{0, 0, false},                                 // nothing left for the ending
		{100 * time.Millisecond, 0, false},            // not even one post and one write
		{120 * time.Second, 120 * time.Second, false}, // every answer would end before it starts
		{10 * time.Second, 10500 * time.Millisecond, false},
	}
	for _, tt := range tests {
		err := CheckDeadlineMargin(tt.margin, tt.timeout)
		if (err == nil) != tt.ok || (err != nil && !strings.Contains(err.Error(), "DEADLINE_MARGIN")) {
			t.Errorf("CheckDeadlineMargin(%s, %s) = %v, want ok %v and an error naming DEADLINE_MARGIN", tt.margin, tt.timeout, err, tt.ok)
		}
	}
}

func TestTemplate_MessageFunctionsMarginLeavesTimeToAnswer(t *testing.T) {
	root, err := samtemplate.FindRoot()
	if err != nil {
		t.Fatal(err)
	}
	tpl, err := samtemplate.Load(filepath.Join(root, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	fns, err := tpl.Functions()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fns {
		if f.LogicalID != "MessageFunction" {
			continue
		}
		get := func(name string) time.Duration {
			t.Helper()
			v, err := tpl.Resolve(f.Environment[name], func(ref string) (string, bool) {
				v, ok := tpl.Params[ref] // parameters at their defaults
				return v, ok
			})
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			d, err := time.ParseDuration(v)
			if err != nil {
				t.Fatalf("%s = %q: %v", name, v, err)
			}
			return d
		}
		if got := get("FUNCTION_TIMEOUT"); got != f.Timeout {
			t.Errorf("FUNCTION_TIMEOUT %s, Timeout %s: they must agree", got, f.Timeout)
		}
		if err := CheckDeadlineMargin(get("DEADLINE_MARGIN"), f.Timeout); err != nil {
			t.Error(err)
		}
		if post := get("POST_TIMEOUT"); post <= 0 || post >= f.Timeout {
			t.Errorf("POST_TIMEOUT %s outside (0, Timeout %s)", post, f.Timeout)
		}
		return
	}
	t.Fatal("no MessageFunction in the template")
}
