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
// sizes (go test -bench SolveGenerated -benchtime 1x ./optimizer/scengen),
// with 2,000, 5,000 and 20,000 sessions for the growth in assets; besides
// ns/op it reports the iterations and the time per iteration per 1,000
// sessions.
func BenchmarkSolveGenerated(b *testing.B) {
	for _, n := range []int{10, 100, 1000, 2000, 5000, 10000, 20000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			s, err := Generate(gridd.Files, benchParams(n))
			if err != nil {
				b.Fatal(err)
			}
			var p *optimizer.Plan
			its := 0
			for b.Loop() {
				p, err = optimizer.Solve(context.Background(), s, optimizer.Options{})
				if err != nil {
					b.Fatal(err)
				}
				its += p.Iterations
			}
			b.ReportMetric(float64(p.Iterations), "iterations")
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(its)/(float64(n)/1000), "ms/iter/1000EVs")
		})
	}
}
