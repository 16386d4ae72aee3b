package main

import (
	"context"
	"net"
	"strconv"
	"testing"

	"github.com/gridd/gridd/site"
)

// freeRange returns a port p such that p-1 .. p+n-1 were free a moment ago.
func freeRange(t *testing.T, n int) int {
	t.Helper()
	for try := 0; try < 50; try++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := ln.Addr().(*net.TCPAddr).Port + 1
		ln.Close()
		ok := p+n <= 65535
		var held []net.Listener
		for q := p - 1; ok && q < p+n; q++ {
			l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(q)))
			if err != nil {
				ok = false
				break
			}
			held = append(held, l)
		}
		for _, l := range held {
			l.Close()
		}
		if ok {
			return p
		}
	}
	t.Fatal("no free port range")
	return 0
}

// The generated site has exactly the devices asked for, in feeders behind gateways.
func TestGenSite(t *testing.T) {
	for _, n := range []int{2, 51, 60, 1000} {
		cfg, err := site.Parse("gen.yaml", []byte(genSite(n)))
		if err != nil {
			t.Fatalf("%d devices: %v", n, err)
		}
		kinds := map[string]int{}
		units := map[string]int{}
		for _, d := range cfg.Devices {
			kinds[d.Kind]++
			units[d.Endpoint]++
		}
		if len(cfg.Devices) != n {
			t.Fatalf("%d devices asked, %d generated", n, len(cfg.Devices))
		}
		for ep, u := range units {
			if u > gatewayUnits {
				t.Fatalf("%d devices: endpoint %s has %d units", n, ep, u)
			}
		}
		if n == 1000 && (kinds[site.KindBESS] != 100 || kinds[site.KindMeter] != 21 || kinds[site.KindEVCharger] != 600 || kinds[site.KindLoad] != 200 || kinds[site.KindPV] != 79) {
			t.Fatalf("1000 devices: %v", kinds)
		}
	}
}

// A short back-to-back run on a small generated site: the simulator and the ticking
// side talk over loopback, every stepped tick writes corrections that read back, and
// every tick and reference poll is timed.
func TestTickSmallSite(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a simulator")
	}
	o := options{devices: 60, port: freeRange(t, 7), start: "2019-06-03T16:00:00Z", ticks: 6, step: 1.3, stepShare: 1}
	ctx, cancel := context.WithCancel(t.Context())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, o, func(a string) { ready <- a }) }()
	select {
	case <-ready:
	case err := <-done:
		t.Fatal(err)
	}
	rep, err := tick(t.Context(), o)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if rep.Devices != 60 || rep.Endpoints != 6 || rep.Ticks != 6 {
		t.Fatalf("report %+v: want 60 devices on 6 endpoints, 6 ticks", rep)
	}
	// Every tick moves the loads (up on even ticks, back on odd ones): each must write.
	if rep.TicksWrote != 6 || rep.WritesFailed != 0 || rep.TickErrors != 0 {
		t.Fatalf("ticks wrote %d of 6, %d writes failed, %d tick errors (%s)", rep.TicksWrote, rep.WritesFailed, rep.TickErrors, rep.FirstTickErrText)
	}
	if rep.Reasons["sub import (the plan's peak target)"] == 0 {
		t.Fatalf("corrections %v: want the substation held at the plan's peak target", rep.Reasons)
	}
	if rep.Latency.N != 6 || rep.Poll.N != 6 || !(rep.Latency.P50MS > 0) || !(rep.Poll.P50MS > 0) || rep.Latency.MaxMS < rep.Latency.P50MS {
		t.Fatalf("latency %+v, reference poll %+v", rep.Latency, rep.Poll)
	}
}

// Bad flags are refused with the flag and its value.
func TestTickBadFlags(t *testing.T) {
	for _, o := range []options{
		{devices: 10, port: 30000, ticks: 0, step: 1.3, stepShare: 1},
		{devices: 10, port: 30000, ticks: 1, step: 1, stepShare: 1},
		{devices: 10, port: 30000, ticks: 1, step: 1.3, stepShare: 0},
		{devices: 100, port: 65530, ticks: 1, step: 1.3, stepShare: 1, start: "2019-06-03T16:00:00Z"},
		{devices: 10, port: 30000, ticks: 1, step: 1.3, stepShare: 1, start: "2019-06-03T16:01:00Z"},
		{config: "x.yaml", devices: 10, port: 30000, ticks: 1, step: 1.3, stepShare: 1},
	} {
		if _, err := tick(t.Context(), o); err == nil {
			t.Errorf("%+v: no error", o)
		} else {
			t.Log(err)
		}
	}
}
