package samtemplate

import (
	"fmt"
	"reflect"
)

// Condition evaluates the named entry of the template's Conditions section
// with the parameters' current values (Params). Fn::Equals, Fn::Not,
// Fn::And, Fn::Or and Condition references are understood; anything else is
// an error.
func (t *Template) Condition(name string) (bool, error) {
	return t.condition(name, 0)
}

// maxConditionDepth bounds Condition references that refer to each other.
const maxConditionDepth = 32

func (t *Template) condition(name string, depth int) (bool, error) {
	if depth > maxConditionDepth {
		return false, fmt.Errorf("condition %s: references nest deeper than %d (a cycle?)", name, maxConditionDepth)
	}
	c, ok := t.Conditions[name]
	if !ok {
		return false, fmt.Errorf("no condition %q", name)
	}
	v, err := t.evalCondition(c, depth)
	if err != nil {
		return false, fmt.Errorf("condition %s: %w", name, err)
	}
	return v, nil
}

func (t *Template) evalCondition(v any, depth int) (bool, error) {
	m := asMap(v)
	if len(m) != 1 {
		return false, fmt.Errorf("%v is not a condition function", v)
	}
	for fn, arg := range m {
		args := asSlice(arg)
		switch fn {
		case "Condition":
			return t.condition(asString(arg), depth+1)
		case "Fn::Equals":
			if len(args) != 2 {
				return false, fmt.Errorf("Fn::Equals needs two values, got %v", arg)
			}
			a, err := t.Resolve(args[0], t.paramLookup)
			if err != nil {
				return false, err
			}
			b, err := t.Resolve(args[1], t.paramLookup)
			if err != nil {
				return false, err
			}
			return a == b, nil
		case "Fn::Not":
			if len(args) != 1 {
				return false, fmt.Errorf("Fn::Not needs one condition, got %v", arg)
			}
			x, err := t.evalCondition(args[0], depth)
			return !x, err
		case "Fn::And", "Fn::Or":
			if len(args) < 2 {
				return false, fmt.Errorf("%s needs at least two conditions, got %v", fn, arg)
			}
			all, anyTrue := true, false
			for _, a := range args {
				x, err := t.evalCondition(a, depth)
				if err != nil {
					return false, err
				}
				all, anyTrue = all && x, anyTrue || x
			}
			if fn == "Fn::And" {
				return all, nil
			}
			return anyTrue, nil
		}
		return false, fmt.Errorf("%s is not a condition function", fn)
	}
	panic("unreachable")
}

// noValue is what a branch of {"Ref": "AWS::NoValue"} chooses: the key or
// list item that holds it disappears.
var noValue = map[string]any{"Ref": "AWS::NoValue"}

// Choose returns v with every Fn::If replaced by the branch its condition
// selects under the parameters' current values; a key or list item whose
// chosen value is AWS::NoValue is left out. v itself is not changed.
func (t *Template) Choose(v any) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		if arg, ok := x["Fn::If"]; ok && len(x) == 1 {
			args := asSlice(arg)
			if len(args) != 3 {
				return nil, fmt.Errorf("Fn::If needs a condition and two values, got %v", arg)
			}
			ok, err := t.Condition(asString(args[0]))
			if err != nil {
				return nil, err
			}
			if ok {
				return t.Choose(args[1])
			}
			return t.Choose(args[2])
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			c, err := t.Choose(e)
			if err != nil {
				return nil, err
			}
			if !reflect.DeepEqual(c, noValue) {
				out[k] = c
			}
		}
		return out, nil
	case []any:
		out := make([]any, 0, len(x))
		for _, e := range x {
			c, err := t.Choose(e)
			if err != nil {
				return nil, err
			}
			if !reflect.DeepEqual(c, noValue) {
				out = append(out, c)
			}
		}
		return out, nil
	}
	return v, nil
}
