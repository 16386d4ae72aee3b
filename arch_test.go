package gridd

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// allowed lists, for each package (by path prefix inside the module), the gridd
// packages it may import. It mirrors the table in docs/ARCHITECTURE.md: data flows
// fieldbus -> storage/forecast -> optimizer -> control/dispatch -> fieldbus/API, and no
// package imports one further down the chain. A package's own subpackages are
// always allowed; internal/ helpers are allowed to tests only (test files are not
// checked).
var allowed = map[string][]string{
	"clock":     {},
	"site":      {},
	"forecast":  {},
	"optimizer": {},
	"control":   {},
	"plant":     {"site"},
	"prices":    {"site"},
	"storage":   {"clock"},
	"fieldbus":  {"site", "clock", "plant", "iec104/apdu"},
	"safety":    {"site", "fieldbus"},
	"dispatch":  {"site", "clock", "fieldbus", "forecast", "optimizer", "control", "storage", "safety", "prices"},
	"api":       {"site", "clock", "dispatch", "storage", "safety", "prices", "district"},
	"iec104":    {"site", "clock", "dispatch", "storage", "safety"},
	// The IEC 60870-5-104 codec and link layer, shared by the station (iec104), the
	// field driver (fieldbus/iec104) and the simulator's RTUs: a leaf.
	"iec104/apdu": {},
	"replay":      {"site", "clock", "fieldbus", "forecast", "optimizer", "control", "storage", "safety", "dispatch", "plant", "prices"},
	"district":    {"site", "clock", "optimizer"},
	// The district replay runs every site's replay loop and the coordination.
	"replay/dreplay": {"site", "clock", "fieldbus", "optimizer", "dispatch", "replay", "district"},
}

const module = "github.com/gridd/gridd/"

// ruleKey is the row of allowed that governs a package: the longest key that is the
// package or one of its parents, else its top-level directory.
func ruleKey(pkg string) string {
	key := strings.SplitN(pkg, "/", 2)[0]
	for k := range allowed {
		if (pkg == k || strings.HasPrefix(pkg, k+"/")) && len(k) > len(key) {
			key = k
		}
	}
	return key
}

func TestImportDirections(t *testing.T) {
	checked := 0
	eachGoFile(t, func(path, pkg string, f *ast.File) {
		top := ruleKey(pkg)
		rules, ok := allowed[top]
		if !ok {
			return // cmd, bench, chaos, internal and the module root wire everything
		}
		checked++
		for _, imp := range f.Imports {
			p := strings.Trim(imp.Path.Value, `"`)
			if !strings.HasPrefix(p, module) {
				continue
			}
			target := strings.TrimPrefix(p, module)
			targetTop := ruleKey(target)
			if targetTop == top || strings.HasPrefix(target, top+"/") || slices.Contains(rules, targetTop) {
				continue
			}
			t.Errorf("%s imports %s: package %s may import only %v (see docs/ARCHITECTURE.md)", path, target, top, rules)
		}
	})
	if checked < 50 {
		t.Fatalf("checked only %d files; the walk is broken", checked)
	}
}

// eachGoFile calls fn with every non-test Go file of the module (its package
// directory and its imports), skipping testdata, node_modules and hidden folders.
func eachGoFile(t *testing.T, fn func(path, pkg string, f *ast.File)) {
	t.Helper()
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); name == "testdata" || name == "node_modules" || strings.HasPrefix(name, ".") && path != "." {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		fn(path, filepath.ToSlash(filepath.Dir(path)), f)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// isDriver says whether a package is a fieldbus protocol driver (docs/ARCHITECTURE.md,
// "Fieldbus drivers"): every package beneath the protocol-neutral core except the
// simulator. Drivers register themselves by endpoint scheme (fieldbus.Register), so a
// new one needs no entry here.
func isDriver(pkg string) bool {
	return strings.HasPrefix(pkg, "fieldbus/") && pkg != "fieldbus/sim" && !strings.HasPrefix(pkg, "fieldbus/sim/")
}

// TestDriverLayering checks that the fieldbus core knows no driver (drivers sit
// beneath it and register themselves) and that nothing above the field imports a
// driver: dispatch, safety, replay and api see the field only through the core. Only
// the wiring (cmd, bench, chaos, internal), the simulator and the drivers themselves
// link drivers in.
func TestDriverLayering(t *testing.T) {
	may := map[string]bool{"cmd": true, "bench": true, "chaos": true, "internal": true, "fieldbus/sim": true}
	eachGoFile(t, func(path, pkg string, f *ast.File) {
		for _, imp := range f.Imports {
			target := strings.TrimPrefix(strings.Trim(imp.Path.Value, `"`), module)
			switch {
			case pkg == "fieldbus" && strings.HasPrefix(target, "fieldbus/"):
				t.Errorf("%s imports %s: the fieldbus core may not import the packages beneath it (drivers register themselves)", path, target)
			case isDriver(target) && !may[pkg] && !may[strings.SplitN(pkg, "/", 2)[0]] && !isDriver(pkg):
				t.Errorf("%s imports the driver %s: only cmd, bench, chaos, internal and fieldbus/sim link drivers in; use the fieldbus core", path, target)
			}
		}
	})
}

// consumerInterfaces lists packages that act on another through an interface they
// own: they may use the other package's types but never name its concrete service.
// api handlers take api.Dispatcher, so they can be tested with a fake.
var consumerInterfaces = map[string][]string{
	"api": {"dispatch.Service"},
}

func TestConsumerOwnedInterfaces(t *testing.T) {
	for pkg, banned := range consumerInterfaces {
		files, err := filepath.Glob(filepath.Join(pkg, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		checked := 0
		for _, path := range files {
			if strings.HasSuffix(path, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			checked++
			ast.Inspect(f, func(n ast.Node) bool {
				sel, ok := n.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				x, ok := sel.X.(*ast.Ident)
				if !ok {
					return true
				}
				for _, b := range banned {
					if x.Name+"."+sel.Sel.Name == b {
						t.Errorf("%s names %s: %s acts through an interface it owns (see docs/ARCHITECTURE.md)", path, b, pkg)
					}
				}
				return true
			})
		}
		if checked == 0 {
			t.Errorf("no Go files in %s", pkg)
		}
	}
}
