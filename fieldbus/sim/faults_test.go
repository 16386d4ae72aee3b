package sim

import (
	"strings"
	"testing"
	"time"
)

func TestParseFaults(t *testing.T) {
	got, err := ParseFaults(" pv=no-answer, load=slow:250ms,bess=exception,m=garbage,ev=ignore-writes,x=none,y=slow,b2=garbage:soc_pct ")
	if err != nil {
		t.Fatal(err)
	}
	want := []FaultSetting{{"pv", FaultNoAnswer, 0, ""}, {"load", FaultSlow, 250 * time.Millisecond, ""}, {"bess", FaultException, 0, ""},
		{"m", FaultGarbage, 0, ""}, {"ev", FaultIgnoreWrites, 0, ""}, {"x", FaultNone, 0, ""}, {"y", FaultSlow, 0, ""}, {"b2", FaultGarbage, 0, "soc_pct"}}
	if len(got) != len(want) {
		t.Fatalf("got %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
	if got, err := ParseFaults(""); err != nil || got != nil {
		t.Errorf("empty spec: %v, %v", got, err)
	}
	for _, tc := range []struct{ spec, wantErr string }{
		{"pv", "want DEVICE=FAULT"},
		{"=slow", "want DEVICE=FAULT"},
		{"pv=sleepy", `unknown fault "sleepy" (want one of exception, garbage, ignore-writes, no-answer, none, slow)`},
		{"pv=slow:fast", `delay "fast"`},
		{"pv=slow:-1s", `delay "-1s"`},
		{"pv=exception:1s", "only slow takes a delay"},
		{"pv=garbage:", "want a point name"},
		{"pv=slow,pv=none", "given twice"},
	} {
		if _, err := ParseFaults(tc.spec); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("ParseFaults(%q): err %v, want %q", tc.spec, err, tc.wantErr)
		}
	}
}
