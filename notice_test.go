package gridd

import (
	"bufio"
	"os"
	"strings"
	"testing"
)

// directRequires lists the modules go.mod requires directly (without "// indirect").
func directRequires(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	inBlock := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "require (":
			inBlock = true
			continue
		case inBlock && line == ")":
			inBlock = false
			continue
		case strings.HasPrefix(line, "require "):
			line = strings.TrimPrefix(line, "require ")
		case !inBlock:
			continue
		}
		if line == "" || strings.HasPrefix(line, "//") || strings.Contains(line, "// indirect") {
			continue
		}
		if fields := strings.Fields(line); len(fields) >= 2 {
			out[fields[0]] = fields[1]
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatal("go.mod: no direct requirements found")
	}
	return out
}

// TestDependenciesRecorded: every direct dependency has a row with its version in
// docs/ARCHITECTURE.md's dependency table and its licence in NOTICE.
func TestDependenciesRecorded(t *testing.T) {
	arch, err := os.ReadFile("docs/ARCHITECTURE.md")
	if err != nil {
		t.Fatal(err)
	}
	notice, err := os.ReadFile("NOTICE")
	if err != nil {
		t.Fatal(err)
	}
	for mod, ver := range directRequires(t) {
		if !strings.Contains(string(arch), "| `"+mod+"` | "+ver+" |") {
			t.Errorf("docs/ARCHITECTURE.md: no dependency row \"| `%s` | %s | why |\"", mod, ver)
		}
		if !strings.Contains(string(notice), "\n    "+mod+" ") {
			t.Errorf("NOTICE: %s is not listed with its licence", mod)
		}
	}
}
