package samtemplate

import (
	"reflect"
	"testing"
)

func TestChoose_PicksBranchesByConditionsOverParameterValues(t *testing.T) {
	tpl, err := Parse([]byte(`
Parameters:
  Level: {Type: String, Default: INFO}
  Count: {Type: Number, Default: 0}
Conditions:
  Debug: !Equals [!Ref Level, DEBUG]
  NoCount: !Equals [!Ref Count, 0]
  Either: !Or [!Condition Debug, !Condition NoCount]
  Both: !And [!Condition Debug, !Not [!Condition NoCount]]
Resources:
  F:
    Type: AWS::SQS::Queue
    Properties:
      A: !If [Debug, DEBUG, INFO]
      B: !If [NoCount, !Ref AWS::NoValue, !Ref Count]
      C: [x, !If [Either, y, !Ref AWS::NoValue], !If [Both, z, !Ref AWS::NoValue]]
`))
	if err != nil {
		t.Fatal(err)
	}
	got, err := tpl.Choose(tpl.Resources["F"].Properties)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"A": "INFO", "C": []any{"x", "y"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("defaults: %v, want %v", got, want)
	}
	tpl.Params["Level"], tpl.Params["Count"] = "DEBUG", "5"
	got, err = tpl.Choose(tpl.Resources["F"].Properties)
	if err != nil {
		t.Fatal(err)
	}
	want = map[string]any{"A": "DEBUG", "B": map[string]any{"Ref": "Count"}, "C": []any{"x", "y", "z"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Level=DEBUG Count=5: %v, want %v", got, want)
	}
}

func TestCondition_UnknownOrCyclicConditionsAreErrors(t *testing.T) {
	tpl, err := Parse([]byte(`
Conditions:
  A: !Condition B
  B: !Condition A
  C: !GetAZs ""
Resources:
  Q: {Type: AWS::SQS::Queue}
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"A", "C", "Missing"} {
		if _, err := tpl.Condition(name); err == nil {
			t.Errorf("condition %s evaluated", name)
		}
	}
}
