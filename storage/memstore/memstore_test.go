package memstore

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/gridd/gridd/storage"
	"github.com/gridd/gridd/storage/storetest"
)

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storage.Store { return New() })
}

func BenchmarkContract(b *testing.B) {
	storetest.Bench(b, func(b *testing.B) storage.Store { return New() })
}

func TestPrune(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		cut       time.Duration
		wantTel   int
		wantSched int
	}{
		{"nothing before the cut", 0, 10, 3},
		{"first schedule and two samples", 2 * time.Hour, 8, 2},
		{"half the samples", 5 * time.Hour, 5, 1},
		{"everything old", 24 * time.Hour, 0, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := New()
			var smp []storage.Sample
			for i := 0; i < 10; i++ {
				smp = append(smp, storage.Sample{Time: t0.Add(time.Duration(i) * time.Hour), DeviceID: "d", Point: "p", Value: float64(i), Quality: storage.QualityGood})
			}
			if err := s.WriteTelemetry(ctx, smp); err != nil {
				t.Fatal(err)
			}
			for i, st := range []storage.ScheduleStatus{storage.StatusSuperseded, storage.StatusRejected, storage.StatusApproved} {
				_, err := s.InsertSchedule(ctx, &storage.Schedule{CreatedAt: t0.Add(time.Duration(i*4) * time.Hour), Start: t0, StepMinutes: 15, Steps: 1, Status: st})
				if err != nil {
					t.Fatal(err)
				}
			}
			s.Prune(t0.Add(tc.cut), t0.Add(tc.cut))
			n, err := s.CountTelemetry(ctx, "")
			if err != nil {
				t.Fatal(err)
			}
			list, err := s.ListSchedules(ctx, storage.Epoch, t0.Add(48*time.Hour), "")
			if err != nil {
				t.Fatal(err)
			}
			if int(n) != tc.wantTel || len(list) != tc.wantSched {
				t.Fatalf("after prune: %d samples, %d schedules; want %d, %d", n, len(list), tc.wantTel, tc.wantSched)
			}
		})
	}
}

// TestPruneKeeping: the points named keep their own cut; the others take
// dataBefore.
func TestPruneKeeping(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC)
	s := New()
	var smp []storage.Sample
	for i := 0; i < 10; i++ {
		for _, d := range []string{"load", "ev"} {
			smp = append(smp, storage.Sample{Time: t0.Add(time.Duration(i) * time.Hour), DeviceID: d, Point: "active_power_kw", Value: float64(i), Quality: storage.QualityGood})
		}
	}
	if err := s.WriteTelemetry(ctx, smp); err != nil {
		t.Fatal(err)
	}
	s.PruneKeeping(t0.Add(8*time.Hour), t0, map[[2]string]time.Time{{"load", "active_power_kw"}: t0.Add(3 * time.Hour)})
	for _, tc := range []struct {
		dev  string
		want int
	}{{"load", 7}, {"ev", 2}} {
		got, err := s.TelemetryRange(ctx, tc.dev, "active_power_kw", t0, t0.Add(24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != tc.want {
			t.Errorf("%s: %d samples left, want %d", tc.dev, len(got), tc.want)
		}
	}
}

// TestSortSetpoints checks the insert's setpoint order against the stable sort
// it replaces, on shuffled lists with repeated steps and devices (equal ones
// told apart by their power, so a change in their order shows).
func TestSortSetpoints(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	devices := []string{"ev-10", "ev-2", "bess", "pv", "ev-1", "b"}
	for trial := 0; trial < 200; trial++ {
		steps := 1 + rng.IntN(20)
		sp := make([]storage.ScheduleSetpoint, rng.IntN(150))
		for i := range sp {
			sp[i] = storage.ScheduleSetpoint{DeviceID: devices[rng.IntN(len(devices))], Step: rng.IntN(steps), PowerKW: float64(i)}
		}
		want := slices.Clone(sp)
		slices.SortStableFunc(want, byStepDevice)
		sortSetpoints(sp, steps)
		if !slices.Equal(sp, want) {
			t.Fatalf("trial %d: got %v, want %v", trial, sp, want)
		}
	}
}
