package samtemplate

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// The real tools are the authority on template.yaml: cfn-lint (with the
// informational checks .cfnlintrc turns on) and the SAM transform that
// `sam deploy` and CloudFormation run. Both are installed on the
// development machines and on CI; a missing tool fails the test with what
// to install.

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func TestTemplate_CfnLintIsClean(t *testing.T) {
	if testing.Short() {
		t.Skip("cfn-lint takes seconds; not in -short")
	}
	if _, err := exec.LookPath("cfn-lint"); err != nil {
		t.Fatal("cfn-lint is not installed (pip install cfn-lint); it checks template.yaml")
	}
	cmd := exec.Command("cfn-lint", "template.yaml") // .cfnlintrc in the root adds the informational checks
	cmd.Dir = repoRoot(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cfn-lint template.yaml: %v\n%s", err, out)
	}
}

// translated runs the SAM transform (internal/samtemplate/sam_translate.py,
// CodeUri replaced by an S3 URI as `sam package` does) and returns the
// CloudFormation resources it produced.
func translated(t *testing.T) map[string]cfnResource {
	t.Helper()
	if testing.Short() {
		t.Skip("the SAM transform takes seconds; not in -short")
	}
	if _, err := exec.LookPath("python3"); err != nil {
		t.Fatal("python3 is not installed; the SAM transform (aws-sam-translator) needs it")
	}
	out := filepath.Join(t.TempDir(), "template.json")
	cmd := exec.Command("python3", filepath.Join("internal", "samtemplate", "sam_translate.py"), "template.yaml", out)
	cmd.Dir = repoRoot(t)
	if msg, err := cmd.CombinedOutput(); err != nil {
		if cmd.ProcessState != nil && cmd.ProcessState.ExitCode() == 2 {
			t.Fatalf("%s", msg)
		}
		t.Fatalf("SAM transform of template.yaml failed: %v\n%s", err, msg)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct{ Resources map[string]cfnResource }
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("SAM transform output: %v", err)
	}
	return doc.Resources
}

type cfnResource struct {
	Type       string
	Properties map[string]any
}

func TestTemplate_SAMTransformGivesEveryFunctionJSONLogsInItsOwnGroup(t *testing.T) {
	res := translated(t)
	tpl := loadRepoTemplate(t)
	n := 0
	for id, r := range res {
		if r.Type != "AWS::Lambda::Function" {
			continue
		}
		n++
		lc := asMap(r.Properties["LoggingConfig"])
		if asString(lc["LogFormat"]) != "JSON" || asString(lc["SystemLogLevel"]) != "INFO" {
			t.Errorf("%s: LoggingConfig %v: want JSON logs with SystemLogLevel INFO (the REPORT lines)", id, lc)
		}
		group := refName(lc["LogGroup"])
		lg, ok := tpl.Resources[group]
		if !ok || lg.Type != "AWS::Logs::LogGroup" {
			t.Errorf("%s: LoggingConfig.LogGroup %v is not a log group of this template", id, lc["LogGroup"])
			continue
		}
		if refName(lg.Properties["RetentionInDays"]) != "LogRetentionDays" {
			t.Errorf("%s: log group %s keeps logs for %v, want !Ref LogRetentionDays", id, group, lg.Properties["RetentionInDays"])
		}
		for other, r2 := range res {
			if other != id && r2.Type == "AWS::Lambda::Function" && refName(asMap(r2.Properties["LoggingConfig"])["LogGroup"]) == group {
				t.Errorf("%s and %s share log group %s", id, other, group)
			}
		}
	}
	fns, _ := tpl.Functions()
	if n != len(fns) || n == 0 {
		t.Errorf("the transform made %d functions of the template's %d", n, len(fns))
	}
}
