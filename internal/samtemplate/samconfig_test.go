package samtemplate

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

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
