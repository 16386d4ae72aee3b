package gridd

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
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
	"storage":   {"clock"},
	"fieldbus":  {"site", "clock", "plant"},
	"safety":    {"site", "fieldbus"},
	"dispatch":  {"site", "clock", "fieldbus", "forecast", "optimizer", "control", "storage", "safety"},
	"api":       {"site", "clock", "dispatch", "storage", "safety"},
	"iec104":    {"site", "clock", "dispatch", "storage", "safety"},
	"replay":    {"site", "clock", "fieldbus", "forecast", "optimizer", "control", "storage", "safety", "dispatch", "plant"},
	"district":  {"site", "clock", "optimizer"},
}

const module = "github.com/gridd/gridd/"

func TestImportDirections(t *testing.T) {
	checked := 0
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
		pkg := filepath.ToSlash(filepath.Dir(path))
		top := strings.SplitN(pkg, "/", 2)[0]
		rules, ok := allowed[top]
		if !ok {
			return nil // cmd, bench, chaos, internal and the module root wire everything
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		checked++
		for _, imp := range f.Imports {
			p := strings.Trim(imp.Path.Value, `"`)
			if !strings.HasPrefix(p, module) {
				continue
			}
			target := strings.TrimPrefix(p, module)
			targetTop := strings.SplitN(target, "/", 2)[0]
			if targetTop == top {
				continue
			}
			ok := false
			for _, a := range rules {
				if targetTop == a {
					ok = true
				}
			}
			if !ok {
				t.Errorf("%s imports %s: package %s may import only %v (see docs/ARCHITECTURE.md)", path, target, top, rules)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 50 {
		t.Fatalf("checked only %d files; the walk is broken", checked)
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
		pkg := filepath.ToSlash(filepath.Dir(path))
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			target := strings.TrimPrefix(strings.Trim(imp.Path.Value, `"`), module)
			switch {
			case pkg == "fieldbus" && strings.HasPrefix(target, "fieldbus/"):
				t.Errorf("%s imports %s: the fieldbus core may not import the packages beneath it (drivers register themselves)", path, target)
			case isDriver(target) && !may[pkg] && !may[strings.SplitN(pkg, "/", 2)[0]] && !isDriver(pkg):
				t.Errorf("%s imports the driver %s: only cmd, bench, chaos, internal and fieldbus/sim link drivers in; use the fieldbus core", path, target)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
