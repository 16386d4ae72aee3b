package api_test

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"unicode"

	"github.com/chromedp/chromedp"
)

// englishUIStrings returns the console's English strings that a Chinese page must not
// show: whole sentences and names (several words or long words), without placeholders.
func englishUIStrings(t *testing.T) []string {
	t.Helper()
	var dict map[string]map[string]string
	raw, err := os.ReadFile("console/i18n.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &dict); err != nil {
		t.Fatal(err)
	}
	ph := regexp.MustCompile(`\{\w+\}`)
	var out []string
	for k, v := range dict["en"] {
		if strings.HasPrefix(k, "ui.title") || ph.MatchString(v) || v == dict["zh-CN"][k] {
			continue
		}
		letters := strings.IndexFunc(v, unicode.IsLetter) >= 0
		if letters && (strings.Contains(v, " ") || len(v) >= 8) {
			out = append(out, v)
		}
	}
	return out
}

// setLang switches the console's language with its header switch.
func (p *page) setLang(lang string) {
	p.t.Helper()
	p.do("language "+lang, chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => { const s = document.querySelector("#lang"); s.value = %q; s.dispatchEvent(new Event("change")); })()`, lang)))
	p.wait("language applied", fmt.Sprintf(`document.documentElement.lang === %q`, lang))
}

// fits checks that nothing on the page is wider than the viewport.
func (p *page) fits(what string) {
	p.t.Helper()
	type box struct{ Scroll, Inner, Chart float64 }
	b := eval[box](p, `(() => { const c = document.querySelector("#plan-svg"); return {Scroll: document.documentElement.scrollWidth, Inner: window.innerWidth,
		Chart: c && c.getClientRects().length ? c.getBoundingClientRect().right : 0}; })()`)
	if b.Scroll > b.Inner+1 || b.Chart > b.Inner+1 {
		p.screenshot(p.name + "-overflow")
		p.t.Errorf("%s: page %v px wide, chart ends at %v px, viewport %v px", what, b.Scroll, b.Chart, b.Inner)
	}
}

// chineseOnly checks that the visible page shows none of the console's English strings.
func (p *page) chineseOnly(what string, english []string) {
	p.t.Helper()
	text := eval[string](p, `document.body.innerText`)
	for _, e := range english {
		if strings.Contains(text, e) {
			p.t.Errorf("%s in zh-CN shows the English %q", what, e)
		}
	}
}

// TestConsoleViewsInChromium: the dispatcher's site and schedule views and the
// operator's charger view, in English and Simplified Chinese (switched in the header),
// at 1280 px and at 390 px, in light and dark colours. Nothing is wider than the
// screen, the Chinese pages show no English UI string, the dark scheme follows the
// system and the toggle. Screenshots of every combination are kept in artifacts/.
func TestConsoleViewsInChromium(t *testing.T) {
	bin := needChromium(t)
	r := newRig(t)
	url := consoleServer(t, r, "views-check-pw")
	english := englishUIStrings(t)
	if len(english) < 50 {
		t.Fatalf("only %d English strings to look for", len(english))
	}

	t.Run("dispatcher", func(t *testing.T) {
		p := loginAs(t, bin, "dispatcher", url+"/", "dana", "views-check-pw", desktop)
		for _, lang := range []string{"en", "zh-CN"} {
			p.setLang(lang)
			for _, vp := range []viewport{desktop, phone} {
				tag := fmt.Sprintf("%s-%d", lang, vp.Width)
				p.do("viewport", chromedp.EmulateViewport(vp.Width, vp.Height))
				p.click(`nav button[data-view="site"]`)
				p.wait("site drawn", fmt.Sprintf(`document.body.dataset.rendered === "site:%s" && document.querySelectorAll("#tree .dev-row").length >= 5`, lang))
				p.fits("site view " + tag)
				if lang == "zh-CN" {
					p.chineseOnly("site view", english)
				}
				p.screenshot("console-dispatcher-site-" + tag)
				p.click(`nav button[data-view="schedules"]`)
				open := fmt.Sprintf(`button[data-open="%d"]`, r.sched.ID)
				p.wait("schedule listed", fmt.Sprintf(`document.querySelector(%q)`, open))
				p.click(open)
				p.wait("chart drawn", `document.querySelectorAll("#plan-svg path.layer").length >= 2 && document.querySelectorAll("#reasons li").length > 0`)
				p.wait("schedules drawn", fmt.Sprintf(`document.body.dataset.rendered === "schedules:%s"`, lang))
				p.fits("schedule view " + tag)
				if lang == "zh-CN" {
					p.chineseOnly("schedule view", english)
					if s := eval[string](p, `document.querySelector("#reasons").innerText`); !strings.ContainsAny(s, "充放待") {
						t.Errorf("reasons not in Chinese: %s", s)
					}
				}
				p.screenshot("console-dispatcher-schedule-" + tag)
			}
		}
		// Dark mode: the system's scheme, then the toggle.
		bg := func() float64 {
			return eval[float64](p, `(() => { const m = getComputedStyle(document.body).backgroundColor.match(/\d+/g).map(Number); return (0.2126*m[0] + 0.7152*m[1] + 0.0722*m[2]) / 255; })()`)
		}
		if l := bg(); l < 0.5 {
			t.Errorf("light scheme: background luminance %.2f", l)
		}
		p.do("dark system scheme", chromedp.Func(func(ctx2 contextT, tgt *chromedp.Target) error { return emulateScheme(ctx2, tgt, "dark") }))
		if l := bg(); l > 0.2 {
			t.Errorf("system dark scheme: background luminance %.2f", l)
		}
		p.screenshot("console-dispatcher-schedule-dark")
		p.click("#theme") // auto -> dark
		p.click("#theme") // dark -> light
		p.wait("light by toggle", `document.documentElement.dataset.theme === "light"`)
		if l := bg(); l < 0.5 {
			t.Errorf("light by toggle under a dark system: background luminance %.2f", l)
		}
	})

	t.Run("operator", func(t *testing.T) {
		p := loginAs(t, bin, "operator", url+"/", "olga", "views-check-pw", desktop)
		for _, lang := range []string{"en", "zh-CN"} {
			p.setLang(lang)
			for _, vp := range []viewport{desktop, phone} {
				tag := fmt.Sprintf("%s-%d", lang, vp.Width)
				p.do("viewport", chromedp.EmulateViewport(vp.Width, vp.Height))
				p.wait("chargers view", fmt.Sprintf(`document.body.dataset.rendered === "chargers:%s" && document.querySelectorAll("#s-device option").length > 0`, lang))
				p.fits("charger view " + tag)
				if lang == "zh-CN" {
					p.chineseOnly("charger view", english)
				}
				p.screenshot("console-operator-" + tag)
			}
		}
	})
}
