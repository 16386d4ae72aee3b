package api_test

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"unicode"

	"github.com/gridd/gridd/api"
	"github.com/gridd/gridd/dispatch"
	"github.com/gridd/gridd/district"
	"github.com/gridd/gridd/safety"
	"github.com/gridd/gridd/site"
	"github.com/gridd/gridd/storage"
)

// TestConsoleTranslations: every string the console shows has an English and a
// Simplified Chinese text with the same placeholders: the keys in index.html and
// the scripts it loads (common.js, console.js), and the keys the console builds from
// the values the server sends (statuses, kinds, comms states, roles, cost terms,
// reason kinds), and the same for the district console's district.html and the
// scripts it loads (common.js, district.js; site statuses, event kinds).
func TestConsoleTranslations(t *testing.T) {
	var dict map[string]map[string]string
	raw, err := os.ReadFile("console/i18n.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &dict); err != nil {
		t.Fatalf("i18n.json: %v", err)
	}
	en, zh := dict["en"], dict["zh-CN"]
	if len(en) < 100 || zh == nil {
		t.Fatalf("i18n.json: %d English strings, zh-CN present %v", len(en), zh != nil)
	}
	need := map[string]string{} // key -> where it is used
	// The site console (index.html) and the district console (district.html,
	// served by gridd coordinate), and every script either page loads.
	var scripts []string
	for _, page := range []string{"index.html", "district.html"} {
		html, err := os.ReadFile("console/" + page)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range regexp.MustCompile(`data-i18n(?:-[a-z-]+)?="([^"]+)"`).FindAllStringSubmatch(string(html), -1) {
			need[m[1]] = page
		}
		for _, m := range regexp.MustCompile(`<script src="([^"]+)">`).FindAllStringSubmatch(string(html), -1) {
			if !slices.Contains(scripts, m[1]) {
				scripts = append(scripts, m[1])
			}
		}
	}
	for _, want := range []string{"common.js", "console.js", "district.js"} {
		if !slices.Contains(scripts, want) {
			t.Fatalf("the pages load %v, not %s", scripts, want)
		}
	}
	var js []byte
	for _, script := range scripts {
		src, err := os.ReadFile("console/" + script)
		if err != nil {
			t.Fatal(err)
		}
		js = append(js, src...)
		for _, m := range regexp.MustCompile(`\bt\("([a-z_.]*[a-z])"[,)]`).FindAllStringSubmatch(string(src), -1) {
			need[m[1]] = script
		}
		for _, m := range regexp.MustCompile(`\? "([a-z_]+\.[a-z_.]+)" : "([a-z_]+\.[a-z_.]+)"`).FindAllStringSubmatch(string(src), -1) {
			need[m[1]], need[m[2]] = script, script
		}
		for _, m := range regexp.MustCompile(`"(district\.[a-z_.]*[a-z])"`).FindAllStringSubmatch(string(src), -1) {
			need[m[1]] = script
		}
	}
	for _, m := range regexp.MustCompile(`"((?:bind|policy)\.[a-z_]+)"`).FindAllStringSubmatch(string(js), -1) {
		need[m[1]] = "console.js"
	}
	family := func(prefix, from string, values ...string) {
		for _, v := range values {
			need[prefix+"."+v] = from
		}
	}
	family("status", "storage.ScheduleStatus", string(storage.StatusProposed), string(storage.StatusApproved), string(storage.StatusRejected), string(storage.StatusExpired), string(storage.StatusSuperseded))
	family("wstatus", "storage.WriteStatus", string(storage.WriteOK), string(storage.WriteMismatch), string(storage.WriteFailed))
	family("quality", "storage.Quality", string(storage.QualityGood), string(storage.QualityStale), string(storage.QualityBad), "none")
	family("kind", "site kinds", site.KindMeter, site.KindBESS, site.KindPV, site.KindEVCharger, site.KindLoad)
	family("comms", "safety.CommsState", string(safety.CommsOnline), string(safety.CommsSuspect), string(safety.CommsLost), string(safety.CommsNotFollowing))
	family("role", "api roles", string(api.RoleAdmin), string(api.RoleDispatcher), string(api.RoleOperator), string(api.RolePlanner), string(api.RoleViewer))
	family("severity", "dispatch alarms", dispatch.SeverityCritical, dispatch.SeverityWarning)
	family("cost", "dispatch.CostTerms", dispatch.CostTerms...)
	family("theme", "common.js", "auto", "dark", "light")
	family("job", "api replay job states", api.ReplayRunning, api.ReplayDone, api.ReplayFailed)
	family("strategy", "replay strategies", "optimize", "baseline", "rule", "hindsight")
	family("sess", "dispatch.SessionStatus", dispatch.SessionPluggedIn, dispatch.SessionFuture, dispatch.SessionNotPluggedIn, dispatch.SessionNoReading)
	family("alarm", "dispatch alarm keys", "control.lost", "control.limit", "write.mismatch", "control.not_following", "audit.chain_broken")
	family("op", "console.js", "stream_live", "stream_reconnecting")
	family("dstatus", "api district site statuses", api.DistrictSiteAnswered, api.DistrictSiteRegistered, api.DistrictSiteExcluded, api.DistrictSiteUnregistered)
	family("devent", "district event kinds", district.EventSiteTimeout, district.EventSiteError, district.EventSiteGarbage, district.EventSiteCapBroken, district.EventSiteNoPlan, district.EventSiteCapInfeasible)
	explain, _ := os.ReadFile("../dispatch/explain.go")
	for _, m := range regexp.MustCompile(`r\.Key(?:, r\.Args)? = "([a-z.]+)"`).FindAllStringSubmatch(string(explain), -1) {
		need["why."+m[1]] = "dispatch/explain.go"
	}
	if len(need) < 150 {
		t.Fatalf("found only %d keys in use: the patterns above no longer match the sources", len(need))
	}
	var missing []string
	for k, from := range need {
		if _, ok := en[k]; !ok {
			missing = append(missing, k+" (en, used in "+from+")")
		}
	}
	placeholder := regexp.MustCompile(`\{\w+\}`)
	for k, e := range en {
		z, ok := zh[k]
		switch {
		case !ok || strings.TrimSpace(z) == "":
			missing = append(missing, k+" (zh-CN)")
		case !hasHan(z) && strings.IndexFunc(placeholder.ReplaceAllString(e, ""), unicode.IsLetter) >= 0 && e != "kW":
			missing = append(missing, k+" (zh-CN is not Chinese: "+z+")")
		}
		pe, pz := placeholder.FindAllString(e, -1), placeholder.FindAllString(z, -1)
		sort.Strings(pe)
		sort.Strings(pz)
		if ok && !slices.Equal(slices.Compact(pe), slices.Compact(pz)) {
			t.Errorf("%s: placeholders %v in English, %v in Chinese", k, pe, pz)
		}
	}
	for k := range zh {
		if _, ok := en[k]; !ok {
			t.Errorf("%s: a Chinese string without an English one", k)
		}
	}
	sort.Strings(missing)
	for _, m := range missing {
		t.Errorf("no translation: %s", m)
	}
}

func hasHan(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return unicode.Is(unicode.Han, r) }) >= 0
}
