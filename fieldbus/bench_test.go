package fieldbus_test

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/simonvetter/modbus"

	"github.com/gridd/gridd/clock"
	"github.com/gridd/gridd/fieldbus"
	fbmodbus "github.com/gridd/gridd/fieldbus/modbus"
	"github.com/gridd/gridd/fieldbus/sim"
	"github.com/gridd/gridd/site"
)

// imageDevices serves n devices of bench/fieldbus/device.yaml (20 points, 3 reads,
// 38 registers; point k holds the value k) on loopback, one endpoint each, and
// returns them with their planned reads, the registers per poll, the servers and
// the register image.
func imageDevices(b testing.TB, n int) ([]fieldbus.Device, []fbmodbus.Read, int, []*sim.Registers, []uint16) {
	b.Helper()
	prof, err := fieldbus.LoadProfile("../bench/fieldbus/device.yaml")
	if err != nil {
		b.Fatal(err)
	}
	reads, err := fbmodbus.PlanReads(prof.Points, fbmodbus.DefaultPlanOptions())
	if err != nil {
		b.Fatal(err)
	}
	regs := 0
	for _, rd := range reads {
		regs += int(rd.Count)
	}
	img := make([]uint16, 104)
	for k := range prof.Points {
		pt := &prof.Points[k]
		enc, err := pt.Encode(float64(k))
		if err != nil {
			b.Fatal(err)
		}
		copy(img[pt.Address:], enc)
	}
	devs := make([]fieldbus.Device, n)
	srvs := make([]*sim.Registers, n)
	for i := range devs {
		addr := freeAddr(b, "127.0.0.1")
		srv, err := sim.ServeRegisters(addr, 1, 0, img, quiet)
		if err != nil {
			b.Fatal(err)
		}
		srvs[i] = srv
		b.Cleanup(func() { srvs[i].Stop() })
		devs[i] = fieldbus.Device{Device: site.Device{ID: "d" + strconv.Itoa(i), Kind: prof.Kind, Endpoint: addr, UnitID: 1,
			Timeout: site.Duration{D: 2 * time.Second}}, Profile: prof}
	}
	return devs, reads, regs, srvs, img
}

// BenchmarkPollMany compares one Poll of 100 devices with a bare simonvetter client
// loop issuing the same reads with the same concurrency (bench/fieldbus runs the
// 1,000-device version across two processes).
func BenchmarkPollMany(b *testing.B) {
	const n = 100
	devs, reads, regs, _, _ := imageDevices(b, n)
	b.Run("bare", func(b *testing.B) {
		clients := make([]*modbus.ModbusClient, n)
		for i, d := range devs {
			c, err := modbus.NewClient(&modbus.ClientConfiguration{URL: "tcp://" + d.Endpoint, Timeout: 2 * time.Second})
			if err == nil {
				err = c.Open()
			}
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			clients[i] = c
		}
		b.ResetTimer()
		for b.Loop() {
			var next atomic.Int64
			var wg sync.WaitGroup
			for range min(fieldbus.DefaultWorkers, n) {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
						for _, rd := range reads {
							rt := modbus.INPUT_REGISTER
							if rd.Table == fieldbus.Holding {
								rt = modbus.HOLDING_REGISTER
							}
							if _, err := clients[i].ReadRegisters(rd.Address, rd.Count, rt); err != nil {
								b.Error(err)
							}
						}
					}
				}()
			}
			wg.Wait()
		}
		b.ReportMetric(float64(n*regs*b.N)/b.Elapsed().Seconds(), "registers/s")
	})
	b.Run("gridd", func(b *testing.B) {
		p := fieldbus.NewPoller(devs, clock.Real{}, quiet)
		defer p.Close()
		p.Poll(context.Background())
		b.ResetTimer()
		for b.Loop() {
			for _, r := range p.Poll(context.Background()) {
				if r.Err != nil {
					b.Fatal(r.Err)
				}
			}
		}
		b.ReportMetric(float64(n*regs*b.N)/b.Elapsed().Seconds(), "registers/s")
	})
}
