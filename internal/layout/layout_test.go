// Package layout pins the import edges of the module (STYLE.md): functions
// -> shared and never back, local/ knowing the functions only as binaries,
// adapters not depending on the startup package, the configuration loader
// not depending on the store and its SDK.
package layout

import (
	"go/build"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ragchat/ragchat/internal/samtemplate"
)

const module = "github.com/ragchat/ragchat/"

// imports caches the direct imports of the module's packages.
var imports = map[string][]string{}

// deps returns every package pkg imports, directly or not (tests aside),
// as import paths; the standard library and the dependencies of other
// modules are not followed.
func deps(t *testing.T, root, pkg string) map[string]bool {
	t.Helper()
	seen := map[string]bool{}
	var walk func(path string)
	walk = func(path string) {
		direct, ok := imports[path]
		if !ok {
			p, err := build.ImportDir(filepath.Join(root, strings.TrimPrefix(path, module)), 0)
			if err != nil {
				t.Fatalf("import %s: %v", path, err)
			}
			direct = p.Imports
			imports[path] = direct
		}
		for _, imp := range direct {
			if seen[imp] || !strings.Contains(imp, ".") { // the standard library has no dot
				continue
			}
			seen[imp] = true
			if strings.HasPrefix(imp, module) {
				walk(imp)
			}
		}
	}
	walk(pkg)
	return seen
}

// packages returns the module's packages under dir (import paths).
func packages(t *testing.T, root, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(filepath.Join(root, dir), func(path string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		if d.Name() == "testdata" {
			return filepath.SkipDir
		}
		if p, err := build.ImportDir(path, 0); err == nil && len(p.GoFiles) > 0 {
			rel, _ := filepath.Rel(root, path)
			out = append(out, module+filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestLayout_ImportEdges(t *testing.T) {
	root, err := samtemplate.FindRoot()
	if err != nil {
		t.Fatal(err)
	}
	rules := []struct {
		from      string   // packages under this directory
		forbidden []string // import path prefixes none of them may depend on
	}{
		{"shared", []string{module + "functions", module + "local", module + "bench", module + "cmd", module + "e2e", module + "internal"}},
		{"functions", []string{module + "local", module + "bench", module + "cmd", module + "e2e", module + "internal"}},
		{"local", []string{module + "functions", module + "bench", module + "e2e"}},
		{"shared/secret", []string{module + "shared/boot"}},
		{"shared/config", []string{module + "shared/store", "github.com/aws/aws-sdk-go-v2/service/dynamodb"}},
	}
	for _, r := range rules {
		for _, pkg := range packages(t, root, r.from) {
			for dep := range deps(t, root, pkg) {
				for _, f := range r.forbidden {
					if dep == f || strings.HasPrefix(dep, f+"/") {
						t.Errorf("%s depends on %s", strings.TrimPrefix(pkg, module), dep)
					}
				}
			}
		}
	}
}
