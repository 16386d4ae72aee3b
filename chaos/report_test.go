package chaos

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// row is one line of the results table.
type row struct {
	order     int
	scenario  string
	happened  string
	detect    string
	recover   string
	proof     string
	violation bool
}

var (
	resultsMu sync.Mutex
	results   []row
)

func record(t *testing.T, r row) {
	t.Helper()
	if t.Failed() {
		r.violation = true
	}
	resultsMu.Lock()
	results = append(results, r)
	resultsMu.Unlock()
	t.Logf("%s: %s | detect %s | recover %s | %s", r.scenario, r.happened, r.detect, r.recover, r.proof)
}

// TestMain runs the suite and, when GRIDD_CHAOS_REPORT names a file, writes the
// results table there as markdown.
func TestMain(m *testing.M) {
	code := m.Run()
	if path := os.Getenv("GRIDD_CHAOS_REPORT"); path != "" {
		if err := os.WriteFile(path, []byte(table()), 0o644); err != nil {
			fmt.Fprintf(os.Stderr, "chaos: write report: %v\n", err)
			if code == 0 {
				code = 1
			}
		}
	}
	os.Exit(code)
}

func table() string {
	resultsMu.Lock()
	defer resultsMu.Unlock()
	sort.SliceStable(results, func(i, j int) bool { return results[i].order < results[j].order })
	var b strings.Builder
	fmt.Fprintf(&b, "Chaos suite run of %s (go test ./chaos).\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	b.WriteString("| scenario | what happened | time to detect | time to recover | proof | verdict |\n")
	b.WriteString("|---|---|---|---|---|---|\n")
	esc := func(s string) string { return strings.ReplaceAll(s, "|", "\\|") }
	for _, r := range results {
		verdict := "pass"
		if strings.Contains(r.proof, "KNOWN ISSUE") {
			verdict = "**invariant violated** (known issue, see below)"
		}
		if r.violation {
			verdict = "**FAIL**"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", esc(r.scenario), esc(r.happened), esc(r.detect), esc(r.recover), esc(r.proof), verdict)
	}
	return b.String()
}

// dur formats a wall-clock duration for the table.
func dur(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%d µs", d.Microseconds())
	case d < 10*time.Second:
		return fmt.Sprintf("%d ms", d.Milliseconds())
	default:
		return fmt.Sprintf("%.1f s", d.Seconds())
	}
}
