package scengen

import (
	"context"
	"fmt"
	"testing"

	"github.com/gridd/gridd"
	"github.com/gridd/gridd/optimizer"
)

// BenchSize is a benchmark size: EV sessions with batteries and feeders
// in proportion (1 battery per 100 EVs, 1 feeder per 200, at least one).
func benchParams(evs int) Params {
	return Params{Seed: 1, EVs: evs, Batteries: max(1, evs/100), Feeders: max(1, evs/200), Steps: 96}
}

// BenchmarkSolveGenerated solves generated scenarios of the benchmark
// sizes (go test -bench SolveGenerated -benchtime 1x ./optimizer/scengen).
func BenchmarkSolveGenerated(b *testing.B) {
	for _, n := range []int{10, 100, 1000, 10000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			s, err := Generate(gridd.Files, benchParams(n))
			if err != nil {
				b.Fatal(err)
			}
			var p *optimizer.Plan
			for b.Loop() {
				p, err = optimizer.Solve(context.Background(), s, optimizer.Options{})
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(p.Iterations), "iterations")
		})
	}
}
