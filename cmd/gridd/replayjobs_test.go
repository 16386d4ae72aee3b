package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/gridd/gridd"
	"github.com/gridd/gridd/api"
	"github.com/gridd/gridd/storage/memstore"
)

// TestReplayJobs: the console's replay jobs run package replay over the store's
// history (here the demo's seeded history), report progress, finish with KPIs and a
// report, compare two runs, and refuse bad requests naming the field.
func TestReplayJobs(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	data, err := gridd.Files.ReadFile(gridd.DemoConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	cfg, _, err := loadSite(gridd.DemoConfigPath, data)
	if err != nil {
		t.Fatal(err)
	}
	st := memstore.New()
	start := time.Date(2019, 6, 10, 0, 0, 0, 0, time.UTC)
	if _, err := seedHistory(ctx, cfg, st, start); err != nil {
		t.Fatal(err)
	}
	jobs := newReplayJobs(ctx, cfg, st, t.TempDir(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	for _, tc := range []struct {
		req   api.ReplayRequest
		field string
	}{
		{api.ReplayRequest{Strategy: "magic", From: start.Add(-2 * time.Hour), To: start}, "strategy"},
		{api.ReplayRequest{Strategy: "baseline", From: start, To: start.Add(-time.Hour)}, "to"},
		{api.ReplayRequest{Strategy: "baseline", From: start.Add(-2 * time.Hour), To: start, Sets: []string{"bess.bess-1.capacity_kwh=lots"}}, "sets"},
	} {
		if _, err := jobs.Start(tc.req); !errors.Is(err, api.ErrReplayInvalid) || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%+v: %v, want an invalid request naming %s", tc.req, err, tc.field)
		}
	}
	var ids []int64
	for _, sets := range [][]string{nil, {"bess.bess-1.capacity_kwh=400"}} {
		job, err := jobs.Start(api.ReplayRequest{Strategy: "optimize", From: start.Add(-4 * time.Hour), To: start.Add(-time.Hour), Sets: sets, Actor: "user:pat"})
		if err != nil {
			t.Fatal(err)
		}
		if job.Status != api.ReplayRunning || job.Total != 12 {
			t.Fatalf("new job %+v", job)
		}
		ids = append(ids, job.ID)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for _, id := range ids {
		for {
			job, _ := jobs.Job(id)
			if job.Status == api.ReplayFailed {
				t.Fatalf("job %d failed: %s", id, job.Error)
			}
			if job.Status == api.ReplayDone {
				if job.Done != 12 || job.KPIs["total_cost"] <= 0 || job.Finished == nil {
					t.Fatalf("done job %+v", job)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("job %d still %s after 2 minutes (%d/%d)", id, job.Status, job.Done, job.Total)
			}
			time.Sleep(100 * time.Millisecond)
		}
		rep, err := jobs.Report(id)
		if err != nil || !strings.Contains(string(rep), "<h1>Replay of demo-campus") {
			t.Fatalf("report of %d: %v", id, err)
		}
	}
	if list := jobs.Jobs(); len(list) != 2 || list[0].ID != ids[1] {
		t.Fatalf("jobs %+v", list)
	}
	cmp, err := jobs.Compare(ids)
	if err != nil || !strings.Contains(string(cmp), "bess.bess-1.capacity_kwh=400") {
		t.Fatalf("compare: %v", err)
	}
}
