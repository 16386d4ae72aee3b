package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCmdForecastBacktest(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "fc.csv")
	var stdout, stderr bytes.Buffer
	err := cmdForecast(context.Background(), []string{"backtest",
		"--data", "../../data/cambridge_buildings_load_hourly_2019.csv", "--value-column", "building_b36_kwh",
		"--from", "2019-06-03", "--to", "2019-06-17", "--horizon", "24h", "--tz", "Europe/London",
		"--out", out, "--json"}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	var got struct {
		Method   string   `json:"method"`
		Chosen   string   `json:"chosen"`
		Origins  int      `json:"origins"`
		Points   int      `json:"points"`
		WAPE     *float64 `json:"wape"`
		MASE     *float64 `json:"mase"`
		Pinball  *float64 `json:"pinball"`
		Coverage *float64 `json:"coverage_p10_p90"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("%v: %s", err, stdout.String())
	}
	if got.Origins != 14 || got.Points != 14*24 || got.Chosen == "" {
		t.Errorf("origins %d points %d chosen %q", got.Origins, got.Points, got.Chosen)
	}
	// No --method runs dispatch's forecaster: forecast.Auto, a fitted method chosen.
	switch got.Chosen {
	case "regression", "double_seasonal_es", "combined":
	default:
		t.Errorf("default method %q chose %q, want a fitted method as dispatch does", got.Method, got.Chosen)
	}
	if got.Method != "auto" {
		t.Errorf("default method %q, want auto", got.Method)
	}
	if got.MASE == nil || !(*got.MASE < 1) || got.WAPE == nil || got.Coverage == nil || got.Pinball == nil {
		t.Errorf("scores %s: want MASE < 1 and all present", stdout.String())
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1+14*24 || strings.Join(rows[0], ",") != "origin,timestamp,p10,p50,p90" {
		t.Fatalf("%d rows, header %v", len(rows), rows[0])
	}
	for _, r := range rows[1:] {
		o, err1 := time.Parse(time.RFC3339, r[0])
		ts, err2 := time.Parse(time.RFC3339, r[1])
		if err1 != nil || err2 != nil || ts.Before(o) || !ts.Before(o.Add(24*time.Hour)) {
			t.Fatalf("row %v: origin/timestamp out of order (%v, %v)", r, err1, err2)
		}
	}

	// Other methods and inputs, text output.
	hol := filepath.Join(dir, "holidays.txt")
	if err := os.WriteFile(hol, []byte("# UK bank holidays\n2019-05-06\n2019-05-27\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"regression with weather and holidays", []string{"backtest", "--data", "../../data/cambridge_buildings_load_hourly_2019.csv",
			"--value-column", "building_b40_kwh", "--from", "2019-05-01", "--to", "2019-05-29", "--method", "regression", "--tz", "Europe/London",
			"--weather", "../../data/bedford_weather_hourly_2019.csv", "--weather-column", "air_temperature_degc", "--holidays", hol}, "most chosen regression"},
		{"select", []string{"backtest", "--data", "../../data/cambridge_buildings_load_hourly_2019.csv",
			"--value-column", "building_b57_kwh", "--from", "2019-05-01", "--to", "2019-05-15", "--method", "select", "--tz", "Europe/London"}, "method select"},
		{"fallback", []string{"backtest", "--data", "../../data/cambridge_buildings_load_hourly_2019.csv",
			"--value-column", "building_b57_kwh", "--from", "2019-05-01", "--to", "2019-05-15", "--method", "fallback"}, "most chosen seasonal_naive_weekly"},
		{"auto pv", []string{"backtest", "--data", "../../data/konstanz_residential4_hourly_2016.csv", "--value-column", "pv_kwh",
			"--from", "2016-06-01", "--to", "2016-06-15", "--pv-lat", "47.66", "--pv-lon", "9.18", "--pv-capacity", "5"}, "most chosen pv_clear_sky_index"},
		{"pv", []string{"backtest", "--data", "../../data/konstanz_residential4_hourly_2016.csv", "--value-column", "pv_kwh",
			"--from", "2016-06-01", "--to", "2016-06-15", "--method", "pv", "--pv-lat", "47.66", "--pv-lon", "9.18", "--pv-capacity", "5"}, "most chosen pv_clear_sky_index"},
	} {
		stdout.Reset()
		if err := cmdForecast(context.Background(), c.args, &stdout, &stderr); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !strings.Contains(stdout.String(), c.want) {
			t.Errorf("%s: output %q lacks %q", c.name, stdout.String(), c.want)
		}
		var mase float64
		if i := strings.Index(stdout.String(), "MASE "); i < 0 {
			t.Fatalf("%s: no MASE in %q", c.name, stdout.String())
		} else if _, err := fmt.Sscanf(stdout.String()[i:], "MASE %g", &mase); err != nil {
			t.Errorf("%s: MASE: %v", c.name, err)
		} else if c.name == "fallback" && mase != 1 {
			t.Errorf("fallback: MASE %g, want 1 (it is the weekly seasonal naive the MASE divides by)", mase)
		} else if c.name != "fallback" && !(mase < 1) {
			t.Errorf("%s: MASE %g, want < 1", c.name, mase)
		}
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"backtest", "--data", "../../data/konstanz_residential4_hourly_2016.csv", "--value-column", "pv_kwh", "--from", "2016-06-01", "--method", "pv", "--pv-capacity", "5"}, "LatitudeDeg"},
		{[]string{"backtest", "--value-column", "x", "--from", "2019-01-01"}, "--data"},
		{[]string{"backtest", "--data", "x.csv", "--value-column", "x", "--from", "2019-01-01", "--method", "magic"}, "no such file"},
		{[]string{"backtest", "--data", "../../data/cambridge_buildings_load_hourly_2019.csv", "--value-column", "building_b9_kwh", "--from", "2019-01-01", "--method", "magic"}, "--method"},
		{[]string{"backtest", "--data", "../../data/cambridge_buildings_load_hourly_2019.csv", "--value-column", "nope", "--from", "2019-01-01"}, "nope"},
		{[]string{"train"}, "usage"},
	} {
		err := cmdForecast(context.Background(), c.args, &stdout, &stderr)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: err = %v, want %q", c.args, err, c.want)
		}
	}
}
