package api_test

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gridd/gridd/api"
)

// fakeReplays finishes a job after three progress polls; the replay itself is
// tested with package replay in cmd/gridd (TestReplayJobs).
type fakeReplays struct {
	mu   sync.Mutex
	jobs []*api.ReplayJob
	reqs []api.ReplayRequest
}

func (f *fakeReplays) Start(req api.ReplayRequest) (api.ReplayJob, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if req.Strategy == "magic" {
		return api.ReplayJob{}, fmt.Errorf("%w: strategy %q", api.ErrReplayInvalid, req.Strategy)
	}
	j := &api.ReplayJob{ID: int64(len(f.jobs) + 1), ReplayRequest: req, Status: api.ReplayRunning, Total: 96, Started: time.Now(), Currency: "EUR"}
	f.jobs, f.reqs = append(f.jobs, j), append(f.reqs, req)
	return *j, nil
}

func (f *fakeReplays) step(j *api.ReplayJob) {
	if j.Status == api.ReplayRunning {
		j.Done += 32
		if j.Done >= j.Total {
			now := time.Now()
			j.Status, j.Finished, j.KPIs = api.ReplayDone, &now, map[string]float64{"total_cost": 1000 + float64(j.ID), "peak_import_kw": 300}
		}
	}
}

func (f *fakeReplays) Jobs() []api.ReplayJob {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := []api.ReplayJob{}
	for i := len(f.jobs) - 1; i >= 0; i-- {
		f.step(f.jobs[i])
		out = append(out, *f.jobs[i])
	}
	return out
}

func (f *fakeReplays) Job(id int64) (api.ReplayJob, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if id < 1 || int(id) > len(f.jobs) {
		return api.ReplayJob{}, false
	}
	return *f.jobs[id-1], true
}

func (f *fakeReplays) Report(id int64) ([]byte, error) {
	return []byte(fmt.Sprintf("<!doctype html><title>report %d</title><h1>Replay %d</h1>", id, id)), nil
}

func (f *fakeReplays) Compare(ids []int64) ([]byte, error) {
	return []byte(fmt.Sprintf("<!doctype html><title>compare</title><h1>Compare %v</h1>", ids)), nil
}

// TestConsoleReplaysInChromium: a planner starts a replay and a what-if from the
// console (from-time read as site time), watches their progress, opens a report and
// compares the two; a bad request is answered naming the field.
func TestConsoleReplaysInChromium(t *testing.T) {
	bin := needChromium(t)
	r := newRig(t)
	users := api.NewUsers()
	if err := users.Put(api.User{Name: "pat", Role: api.RolePlanner}, "plan-the-site-pw", time.Now()); err != nil {
		t.Fatal(err)
	}
	fake := &fakeReplays{}
	srv, err := api.NewServer(r.svc, api.Options{Users: users, Replays: fake})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	p := loginAs(t, bin, "replays", hs.URL+"/", "pat", "plan-the-site-pw", desktop)
	p.click(`nav button[data-view="planning"]`)
	p.wait("form", `!document.querySelector("#view-planning").hidden`)
	p.do("from", chromedpSetValue("#r-from", "2019-06-02T00:00"))
	p.click("#r-start")
	p.wait("first run", `document.querySelector("#r-msg").textContent.includes("1")`)
	p.do("what-if", chromedpSetValue("#r-sets", "bess.bess.capacity_kwh=400"))
	p.click("#r-start")
	p.wait("progress shown", `document.querySelectorAll("#replays tbody tr").length === 2`)
	p.wait("both done", `document.querySelectorAll("#replays a[data-report]").length === 2`)
	if href := eval[string](p, `document.querySelector('#replays a[data-report="1"]').getAttribute("href")`); href != "/api/v1/replays/1/report" {
		t.Errorf("report link %q", href)
	}
	p.click(`#replays input[data-compare="1"]`)
	p.click(`#replays input[data-compare="2"]`)
	p.wait("compare enabled", `!document.querySelector("#r-compare").disabled`)
	p.screenshot("console-replays")
	body := eval[string](p, `fetch("/api/v1/replays/1/report").then(r => r.text())`)
	if !strings.Contains(body, "<h1>Replay 1</h1>") {
		t.Errorf("report %q", body)
	}
	fake.mu.Lock()
	reqs := fake.reqs
	fake.mu.Unlock()
	if len(reqs) != 2 || reqs[0].Actor != "user:pat" || !reqs[0].From.Equal(time.Date(2019, 6, 2, 0, 0, 0, 0, time.UTC)) || !reqs[0].To.Equal(reqs[0].From.Add(24*time.Hour)) ||
		len(reqs[1].Sets) != 1 || reqs[1].Sets[0] != "bess.bess.capacity_kwh=400" {
		t.Errorf("requests %+v", reqs)
	}
	p.do("bad strategy", chromedpSetValue("#r-strategy", "optimize"))
	code := eval[int](p, `fetch("/api/v1/replays", {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify({strategy: "magic", from: "2019-06-02T00:00:00Z", to: "2019-06-03T00:00:00Z"})}).then(r => r.status)`)
	if code != 400 {
		t.Errorf("bad strategy: %d", code)
	}
}
