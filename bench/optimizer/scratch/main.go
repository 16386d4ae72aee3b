package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/gridd/gridd/optimizer"
)

func main() {
	v := flag.Bool("v", false, "")
	prof := flag.String("prof", "", "")
	n := flag.Int("n", 1, "")
	flag.Parse()
	b, _ := os.ReadFile(flag.Arg(0))
	s, err := optimizer.ParseScenario(b)
	if err != nil {
		panic(err)
	}
	opts := optimizer.Options{}
	if *v {
		opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if *prof != "" {
		f, _ := os.Create(*prof)
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	for i := 0; i < *n; i++ {
		t0 := time.Now()
		c0 := cpu()
		p, err := optimizer.Solve(context.Background(), s, opts)
		if err != nil {
			panic(err)
		}
		fmt.Printf("obj %.10g iters %d gap %.2e pres %.2e %v\n", p.Objective, p.Iterations, p.Gap, p.PrimalResidual, time.Since(t0))
		fmt.Printf("  cpu %v\n", cpu()-c0)
	}
}

func cpu() time.Duration {
	var r syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &r)
	return time.Duration(r.Utime.Nano() + r.Stime.Nano())
}
