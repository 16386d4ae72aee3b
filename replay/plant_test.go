package replay

import (
	"context"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/gridd/gridd/clock"
	"github.com/gridd/gridd/fieldbus"
	"github.com/gridd/gridd/internal/testsite"
	"github.com/gridd/gridd/site"
)

// TestSimAndReplayAgree drives the Modbus simulator (over loopback, through the
// production writer) and the replay field with the same site, the same data and the
// same setpoints for a day, and checks that both produce the same trajectory: at
// every step boundary each battery's SoC, each charger's connection and session
// energy, and over every step each device's and the root meter's mean power.
func TestSimAndReplayAgree(t *testing.T) {
	cfg := demoConfig(t)
	// Free loopback endpoints, one per endpoint of the config.
	eps := map[string]string{}
	for i := range cfg.Devices {
		d := &cfg.Devices[i]
		if _, ok := eps[d.Endpoint]; !ok {
			eps[d.Endpoint] = testsite.FreeAddr(t)
			if strings.HasPrefix(d.Endpoint, "iec104://") {
				eps[d.Endpoint] = "iec104://" + eps[d.Endpoint] // an RTU stays an RTU
			}
		}
		d.Endpoint = eps[d.Endpoint]
	}
	profiles, err := fieldbus.CheckSite(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for id, p := range profiles {
		q := *p
		q.Watchdog = 0 // the replay field has no command watchdog
		profiles[id] = &q
	}
	for _, day := range []time.Time{
		time.Date(2019, 6, 12, 0, 0, 0, 0, time.UTC), // long PV day, a cap that binds
		time.Date(2019, 11, 6, 0, 0, 0, 0, time.UTC), // short day, evening sessions
	} {
		t.Run(day.Format("2006-01-02"), func(t *testing.T) {
			agreeOverDay(t, cfg, profiles, day)
		})
	}
}

func agreeOverDay(t *testing.T, cfg *site.Config, profiles map[string]*fieldbus.Profile, from time.Time) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	step := cfg.Site.Step.D
	dtH := step.Hours()
	n := int(24 * time.Hour / step)
	to := from.Add(time.Duration(n) * step)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	clk := clock.NewSim(from)
	sm := testsite.StartSim(t, ctx, cfg, profiles, clk, log)
	devs := testsite.Devices(cfg, profiles)
	w := fieldbus.NewWriter(devs, clk, log)
	defer w.Close()
	h, err := LoadHistory(cfg, "../data", nil, from, to)
	if err != nil {
		t.Fatal(err)
	}
	f, err := NewField(cfg, h, clk, from)
	if err != nil {
		t.Fatal(err)
	}

	// Setpoints on a 0.5 kW grid (exact in every register encoding), held for a few
	// steps each so that batteries reach their SoC limits and vehicles fill up.
	rng := rand.New(rand.NewPCG(uint64(from.Unix()), 7))
	hold := map[string]float64{}
	pick := func(lo, hi float64) float64 { return math.Round((lo+rng.Float64()*(hi-lo))*2) / 2 }
	var root string
	for _, d := range cfg.Devices {
		if d.Kind == site.KindMeter && d.Node == cfg.Root() {
			root = d.ID
		}
	}
	prev := map[string][2]float64{} // sim import, export at the last boundary
	energy := func(id string) [2]float64 {
		st, ok := sm.State(id)
		if !ok {
			t.Fatalf("sim has no device %s", id)
		}
		return [2]float64{st.ImportKWh, st.ExportKWh}
	}
	for _, d := range cfg.Devices {
		prev[d.ID] = energy(d.ID)
	}
	const tol = 1e-6
	checked := map[string]int{}
	for k := 0; k < n; k++ {
		at := from.Add(time.Duration(k) * step)
		clk.Set(at)
		if k%4 == 0 {
			for _, d := range cfg.Devices {
				switch d.Kind {
				case site.KindBESS:
					hold[d.ID] = pick(-d.BESS.MaxDischargeKW, d.BESS.MaxChargeKW)
				case site.KindPV:
					hold[d.ID] = pick(0, d.PV.CapacityKW)
				case site.KindEVCharger:
					hold[d.ID] = pick(-d.EV.MaxDischargeKW-2, d.EV.MaxChargeKW)
				}
			}
		}
		for _, d := range cfg.Devices {
			v, ok := hold[d.ID]
			if !ok {
				continue
			}
			point := "setpoint_kw"
			if d.Kind == site.KindPV {
				point = "power_limit_kw"
			}
			if d.Kind == site.KindEVCharger {
				v = math.Max(v, -d.EV.MaxDischargeKW)
			}
			if _, err := w.Write(ctx, d.ID, point, v); err != nil {
				t.Fatalf("step %d: sim write %s %s %g: %v", k, d.ID, point, v, err)
			}
			if _, err := f.Write(ctx, d.ID, point, v); err != nil {
				t.Fatalf("step %d: field write %s %s %g: %v", k, d.ID, point, v, err)
			}
		}
		end := at.Add(step)
		clk.Set(end)
		if err := f.Advance(end); err != nil {
			t.Fatal(err)
		}
		rec := f.Steps()[k]
		sums := map[string]float64{}
		for _, d := range cfg.Devices {
			e := energy(d.ID)
			meanKW := (e[0] - prev[d.ID][0] - (e[1] - prev[d.ID][1])) / dtH
			prev[d.ID] = e
			st, _ := sm.State(d.ID)
			fd := f.byID[d.ID]
			cmp := func(what string, simV, fieldV float64) {
				t.Helper()
				checked[what]++
				if math.Abs(simV-fieldV) > tol*math.Max(1, math.Abs(simV)) {
					t.Errorf("%s, step %d (%s): %s: sim %.9f, replay field %.9f", d.ID, k, at.Format("15:04"), what, simV, fieldV)
				}
			}
			switch d.Kind {
			case site.KindMeter:
				if d.ID == root {
					cmp("root meter mean kW", meanKW, rec.GridKW)
				}
				continue
			case site.KindBESS:
				cmp("battery SoC %", st.SoCPct, fd.pd.Battery.SoCPct())
			case site.KindEVCharger:
				s, plugged := fd.pd.EV.Session()
				cmp("charger connected", b2f(st.Connected), b2f(plugged))
				cmp("session energy kWh", st.SessionEnergyKWh, fd.pd.EV.DeliveredKWh())
				if plugged {
					cmp("session request kWh", st.SessionRequestKWh, s.EnergyKWh)
				}
			}
			cmp("mean kW", meanKW, fd.avgKW)
			sums[d.Kind] += meanKW
		}
		for kind, fieldKW := range map[string]float64{site.KindBESS: rec.BESSKW, site.KindEVCharger: rec.EVKW, site.KindLoad: rec.LoadKW, site.KindPV: -rec.PVKW} {
			if math.Abs(sums[kind]-fieldKW) > tol*math.Max(1, math.Abs(fieldKW)) {
				t.Errorf("step %d: %s total: sim %.9f kW, replay step record %.9f kW", k, kind, sums[kind], fieldKW)
			}
		}
	}
	// The day must have exercised what the comparison is about.
	var socLimit, full, v2g, capped, sessions bool
	for _, st := range f.Steps() {
		capped = capped || st.PVAvailKW > st.PVKW+1
	}
	for _, d := range cfg.Devices {
		fd := f.byID[d.ID]
		if b := fd.pd.Battery; b != nil && (b.SoCKWh >= b.MaxKWh-1e-6 || b.SoCKWh <= b.MinKWh+1e-6) {
			socLimit = true
		}
	}
	for _, s := range f.Sessions() {
		sessions = true
		full = full || s.DeliveredKWh >= s.RequestedKWh-1e-6
		v2g = v2g || s.DeliveredKWh < 0
	}
	for _, d := range cfg.Devices {
		if c := f.byID[d.ID].pd.EV; c != nil {
			if _, ok := c.Session(); ok {
				sessions = true
				v2g = v2g || c.DeliveredKWh() < 0
				full = full || c.DeliveredKWh() >= 0 && c.PowerKW() == 0 && c.SetpointKW > 0
			}
		}
	}
	t.Logf("checked %v; battery at an SoC limit %v, PV capped %v, sessions %v, a vehicle full %v, below its plug-in level by V2G %v",
		checked, socLimit, capped, sessions, full, v2g)
	if !capped || !sessions {
		t.Errorf("the day exercised too little: PV capped %v, sessions %v", capped, sessions)
	}
	if len(f.Steps()) != n {
		t.Fatalf("%d steps recorded, want %d", len(f.Steps()), n)
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
