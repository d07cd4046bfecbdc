package stack

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/ragchat/ragchat/internal/samtemplate"
)

// EnvVars are environment overrides in the format of `sam local
// --env-vars`: the key "Parameters" applies to every function, a function's
// logical ID to that function only (and wins).
type EnvVars map[string]map[string]string

// LoadEnvVars reads an --env-vars JSON file. Values may be JSON strings,
// numbers or booleans, as sam accepts them.
func LoadEnvVars(path string) (EnvVars, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("env vars: %w", err)
	}
	var raw map[string]map[string]any
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("env vars %s: want {\"Parameters\": {...}, \"<LogicalId>\": {...}}: %w", path, err)
	}
	out := EnvVars{}
	for section, vars := range raw {
		out[section] = map[string]string{}
		for k, v := range vars {
			switch x := v.(type) {
			case string:
				out[section][k] = x
			case float64, bool:
				out[section][k] = fmt.Sprint(x)
			default:
				return nil, fmt.Errorf("env vars %s: %s.%s is not a string, number or boolean", path, section, k)
			}
		}
	}
	return out, nil
}

// resolver resolves the template's references as they stand locally.
type resolver struct {
	tpl       *samtemplate.Template
	region    string
	accountID string
	tables    map[string]string // table logical ID -> physical name
}

// lookup answers samtemplate's Resolve: parameters (their defaults; ""
// for none), pseudo parameters, table names and ARNs, and the Ref / Arn of
// other resources in the form AWS would give them.
func (r resolver) lookup(ref string) (string, bool) {
	switch ref {
	case "AWS::Region":
		return r.region, true
	case "AWS::AccountId":
		return r.accountID, true
	case "AWS::Partition":
		return "aws", true
	case "AWS::URLSuffix":
		return "amazonaws.com", true
	case "AWS::StackName":
		return stackName, true
	}
	if _, ok := r.tpl.Parameters[ref]; ok {
		return r.tpl.Params[ref], true
	}
	id, attr, hasAttr := strings.Cut(ref, ".")
	res, ok := r.tpl.Resources[id]
	if !ok {
		return "", false
	}
	if name, ok := r.tables[id]; ok {
		if !hasAttr {
			return name, true
		}
		if attr == "Arn" {
			return fmt.Sprintf("arn:aws:dynamodb:%s:%s:table/%s", r.region, r.accountID, name), true
		}
		return "", false
	}
	switch res.Type {
	case "AWS::SecretsManager::Secret":
		if !hasAttr {
			return fmt.Sprintf("arn:aws:secretsmanager:%s:%s:secret:%s-%s", r.region, r.accountID, stackName, id), true
		}
	case "AWS::Serverless::Function":
		arn := fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", r.region, r.accountID, id)
		if !hasAttr {
			return id, true
		}
		if attr == "Arn" {
			return arn, true
		}
	default:
		if !hasAttr {
			return id, true
		}
	}
	return "", false
}

// functionEnv resolves a function's template environment and applies the
// local overrides, then the --env-vars file.
func (r resolver) functionEnv(fn samtemplate.Function, overrides map[string]string, file EnvVars) (map[string]string, error) {
	env := make(map[string]string, len(fn.Environment)+len(overrides))
	names := make([]string, 0, len(fn.Environment))
	for k := range fn.Environment {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		v, err := r.tpl.Resolve(fn.Environment[k], r.lookup)
		if err != nil {
			return nil, fmt.Errorf("function %s: environment variable %s: %w", fn.LogicalID, k, err)
		}
		env[k] = v
	}
	for k, v := range overrides {
		env[k] = v
	}
	for k, v := range file["Parameters"] {
		env[k] = v
	}
	for k, v := range file[fn.LogicalID] {
		env[k] = v
	}
	return env, nil
}
