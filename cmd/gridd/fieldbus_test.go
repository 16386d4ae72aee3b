package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gridd/gridd/clock"
	"github.com/gridd/gridd/fieldbus"
	"github.com/gridd/gridd/fieldbus/modbus"
	"github.com/gridd/gridd/fieldbus/sim"
	"github.com/gridd/gridd/site"
)

// runFieldbusCLI runs a fieldbus command through run; until main.go dispatches the
// command it calls the command function directly with run's exit-code rules.
func runFieldbusCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	code, out, errOut := runCLI(t, args...)
	if code != 2 || !strings.Contains(errOut, "unknown command") {
		return code, out, errOut
	}
	cmds := map[string]func(context.Context, []string, io.Writer, io.Writer) error{"profile": cmdProfile, "probe": cmdProbe}
	var o, e bytes.Buffer
	err := cmds[args[0]](context.Background(), args[1:], &o, &e)
	var ue usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0, o.String(), e.String()
	case errors.As(err, &ue):
		e.WriteString(err.Error() + "\n")
		return 2, o.String(), e.String()
	default:
		e.WriteString(err.Error() + "\n")
		return 1, o.String(), e.String()
	}
}

func TestProfileCheck(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.yaml", `name: acme-meter
kind: meter
points:
  - {name: active_power_kw, register: input, address: 0, type: i32, scale: 0.1, unit: kW}
  - {name: energy_import_kwh, register: input, address: 2, type: u32, unit: kWh}
  - {name: setpoint_kw, register: holding, address: 10, type: i16, access: rw, min: -10, max: 10}
`)
	overlap := write("overlap.yaml", `name: o
kind: meter
points:
  - {name: active_power_kw, register: input, address: 0, type: i32}
  - {name: voltage_v, register: input, address: 1, type: u16}
`)
	unknownType := write("type.yaml", `name: u
kind: meter
points:
  - {name: active_power_kw, register: input, address: 0, type: u17}
`)
	badLimits := write("limits.yaml", `name: l
kind: bess
points:
  - {name: setpoint_kw, register: holding, address: 0, type: u16, access: rw, min: -5, max: 5}
`)
	unknownName := write("name.yaml", `name: n
kind: meter
points:
  - {name: active_power_watts, register: input, address: 0, type: i16}
`)
	cases := []struct {
		name     string
		files    []string
		wantCode int
		want     []string
	}{
		{"good file", []string{good}, 0, []string{good + ": ok", `"acme-meter"`, "3 points", "1 writable", "2 reads"}},
		{"builtin", []string{"builtin:bess"}, 0, []string{"builtin:bess: ok"}},
		{"builtin IEC 104", []string{"builtin:rtu104-bess"}, 0, []string{"builtin:rtu104-bess: ok", "IEC 104", "1 writable by command"}},
		{"IEC 104 duplicate IOA", []string{write("ioa.yaml", "name: r\nkind: meter\nprotocol: iec104\npoints:\n  - {name: active_power_kw, ioa: 7, type: M_ME_NC_1}\n  - {name: voltage_v, ioa: 7, type: M_ME_NB_1}\n")}, 1, []string{"points[1].ioa", "already used by points[0]"}},
		{"overlap", []string{overlap}, 1, []string{overlap + ":5", "points[1].address", "overlaps points[0]"}},
		{"unknown type", []string{unknownType}, 1, []string{"points[0].type", `"u17"`}},
		{"limits that cannot be met", []string{badLimits}, 1, []string{"points[0].min", "-5", "not representable"}},
		{"unknown semantic name", []string{unknownName}, 1, []string{"points[0].name", "active_power_watts", "unknown semantic name"}},
		{"missing file", []string{filepath.Join(dir, "nope.yaml")}, 1, []string{"nope.yaml"}},
		{"mixed", []string{good, overlap}, 1, []string{good + ": ok", "1 of 2 profiles have errors"}},
		{"no files", nil, 2, []string{"at least one"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runFieldbusCLI(t, append([]string{"profile", "check"}, tc.files...)...)
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.wantCode, out, errOut)
			}
			for _, w := range tc.want {
				if !strings.Contains(out+errOut, w) {
					t.Errorf("output does not mention %q:\nstdout: %s\nstderr: %s", w, out, errOut)
				}
			}
		})
	}
	// The worked example in docs/PROFILES.md must pass as documented.
	doc, err := os.ReadFile("../../docs/PROFILES.md")
	if err != nil {
		t.Fatal(err)
	}
	_, example, ok := strings.Cut(string(doc), "```yaml\nname: acme-powerstore-50\n")
	example, _, ok2 := strings.Cut(example, "```")
	if !ok || !ok2 {
		t.Fatal("docs/PROFILES.md has no acme-powerstore-50 example")
	}
	ex := write("acme-powerstore-50.yaml", "name: acme-powerstore-50\n"+example)
	code, out, errOut := runFieldbusCLI(t, "profile", "check", ex)
	if want := `(profile "acme-powerstore-50", kind bess, 5 points, 1 writable, 2 reads per poll)`; code != 0 || !strings.Contains(out, want) {
		t.Errorf("worked example: exit %d, want %q\nstdout: %s\nstderr: %s", code, want, out, errOut)
	}
	if code, _, _ := runFieldbusCLI(t, "profile", "lint", good); code != 2 {
		t.Errorf("profile lint: exit %d, want 2", code)
	}
}

func freeLoopback(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func TestProbe(t *testing.T) {
	img, err := modbus.EncodeSunSpec([]modbus.SunSpecModelData{
		{ID: 1, Text: map[string]string{"Mn": "Acme", "Md": "Store-1", "SN": "X1"}},
		{ID: 124, Raw: map[string]int64{"ChaState": 421, "ChaState_SF": -1, "ChaSt": 3}},
		{ID: 201, Raw: map[string]int64{"W": 150, "W_SF": 1, "Hz": 5000, "Hz_SF": -2}},
	})
	if err != nil {
		t.Fatal(err)
	}
	addr := freeLoopback(t)
	srv, err := sim.ServeRegisters(addr, 5, 40000, img, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	code, out, errOut := runFieldbusCLI(t, "probe", "--addr", addr, "--unit", "5")
	if code != 0 {
		t.Fatalf("probe exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	for _, w := range []string{"SunSpec map at holding register 40000, 3 models", "model 1 (common)", `"Acme"`,
		"model 124 (storage)", "ChaState     42.1 %", "DISCHARGING", "model 201 (meter single phase)",
		"soc_pct              42.1 %", "active_power_kw      1.5 kW", "frequency_hz         50 Hz"} {
		if !strings.Contains(out, w) {
			t.Errorf("probe output lacks %q:\n%s", w, out)
		}
	}
	// Wrong unit: the server answers with a gateway exception at every base.
	if code, out, errOut := runFieldbusCLI(t, "probe", "--addr", addr, "--unit", "6"); code != 1 || !strings.Contains(errOut, "no SunSpec marker") {
		t.Errorf("probe of absent unit: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	for _, args := range [][]string{{"probe"}, {"probe", "--addr", "nohostport"}, {"probe", "--addr", addr, "--unit", "300"}, {"probe", "--bogus"}} {
		if code, _, _ := runFieldbusCLI(t, args...); code != 2 {
			t.Errorf("gridd %v: exit %d, want 2", args, code)
		}
	}
}

// TestSimFaultFlag starts the demo site's simulator with --faults and polls it.
func TestSimFaultFlag(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string
		check   func(t *testing.T, got map[string]fieldbus.Reading)
	}{
		{"no faults", nil, "", func(t *testing.T, got map[string]fieldbus.Reading) {
			for id, r := range got {
				if r.Stale || r.Err != nil {
					t.Errorf("%s: %v", id, r.Err)
				}
			}
		}},
		{"exception and garbage", []string{"--faults", "meter-sub=exception,meter-fa=garbage"}, "", func(t *testing.T, got map[string]fieldbus.Reading) {
			if r := got["meter-sub"]; !errors.Is(r.Err, modbus.ErrServerDeviceFailure) {
				t.Errorf("meter-sub: %v, want SERVER DEVICE FAILURE", r.Err)
			}
			if r := got["meter-fa"]; r.Err == nil {
				t.Errorf("meter-fa with garbage registers decoded cleanly")
			}
		}},
		{"RTU gone", []string{"--faults", "meter-fb=no-answer"}, "", func(t *testing.T, got map[string]fieldbus.Reading) {
			// meter-fb is read from a simulated RTU over IEC 104: its link is refused.
			if r := got["meter-fb"]; !r.Stale || r.Err == nil || !strings.Contains(r.Err.Error(), "iec104") {
				t.Errorf("meter-fb behind a silent RTU: stale %v, %v", r.Stale, r.Err)
			}
			if r := got["meter-fa"]; r.Stale || r.Err != nil {
				t.Errorf("meter-fa (Modbus) should not suffer: %v", r.Err)
			}
		}},
		{"unknown device", []string{"--faults", "nope=slow"}, `unknown device "nope"`, nil},
		{"bad fault", []string{"--faults", "meter-sub=wobbly"}, `unknown fault "wobbly"`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fl := flag.NewFlagSet("sim", flag.ContinueOnError)
			apply := addSimFaultFlag(fl)
			if err := fl.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			cfg, profiles, err := loadSite("../../configs/demo-site.yaml", nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := freePorts(cfg); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			log := slog.New(slog.DiscardHandler)
			s, err := startSim(ctx, cfg, profiles, clock.Real{}, log)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Stop()
			err = apply(s)
			if tc.wantErr != "" {
				var ue usageError
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.As(err, &ue) {
					t.Fatalf("err %v, want a usage error with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var devs []fieldbus.Device
			for _, d := range cfg.Devices {
				if strings.HasPrefix(d.Endpoint, site.OCPPScheme) {
					continue // OCPP stations connect to a CSMS (TestOCPPDemoEndToEnd)
				}
				devs = append(devs, fieldbus.Device{Device: d, Profile: profiles[d.ID]})
			}
			p := fieldbus.NewPoller(devs, clock.Real{}, log)
			defer p.Close()
			got := map[string]fieldbus.Reading{}
			for _, r := range p.Poll(ctx) {
				got[r.DeviceID] = r
			}
			tc.check(t, got)
		})
	}
}
