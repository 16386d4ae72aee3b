package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConfigCheckCycleSpecs: `gridd config check` reports a bad cycle spec as an
// error naming site.cycle (it used to panic on "TZ=0", robfig/cron#554, and pass
// "@every 0s").
func TestConfigCheckCycleSpecs(t *testing.T) {
	demo, err := os.ReadFile("../../configs/demo-site.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, spec := range []string{"TZ=0", "CRON_TZ=UTC", "TZ=", "@every 0s", "@every -1s"} {
		t.Run(spec, func(t *testing.T) {
			yml := strings.Replace(string(demo), `cycle: "*/15 * * * *"`, `cycle: "`+spec+`"`, 1)
			if yml == string(demo) {
				t.Fatal("demo config has no cycle line to replace")
			}
			path := filepath.Join(t.TempDir(), "site.yaml")
			if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
				t.Fatal(err)
			}
			code, out, errOut := runCLI(t, "config", "check", path)
			if code != 1 || !strings.Contains(errOut, "site.cycle") || strings.Contains(out, ": ok") {
				t.Fatalf("config check exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
			}
		})
	}
}
