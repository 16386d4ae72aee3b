package dreplay

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/gridd/gridd"
)

// writeDistrict generates a district into a temporary directory and returns
// the district file's path.
func writeDistrict(t testing.TB, p GenParams) string {
	t.Helper()
	files, err := Generate(gridd.Files, p)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, b := range files {
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "district.yaml")
}
