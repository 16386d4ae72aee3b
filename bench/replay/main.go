// Command replay-bench times a closed-loop replay of the bundled demo site with one
// battery, PV and a fleet of EV chargers: cycles per second for each strategy and
// setting asked for.
//
//	go run ./bench/replay -days 365 -chargers 50 -strategy optimize -horizon 24h -forecast-every 1 [-skip-band]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/gridd/gridd"
	_ "github.com/gridd/gridd/fieldbus/ocpp" // the demo site's ocpp:// chargers pass validation
	"github.com/gridd/gridd/fieldbus/sim"
	"github.com/gridd/gridd/replay"
	"github.com/gridd/gridd/site"
	"github.com/gridd/gridd/storage/sqlite"
)

func main() {
	replay.ReplayGC() // as gridd replay does
	days := flag.Int("days", 365, "days to replay")
	from := flag.String("from", "2019-01-01", "first day (UTC)")
	chargers := flag.Int("chargers", 50, "EV chargers (ev.chargers)")
	strategy := flag.String("strategy", "optimize", "comma-separated strategies")
	horizon := flag.String("horizon", "24h", "optimisation horizon (site.horizon)")
	every := flag.Int("forecast-every", 1, "forecast every N cycles")
	skipBand := flag.Bool("skip-band", false, "leave the P10/P90 band out of the forecasts (replay.Options.SkipForecastBand)")
	report := flag.String("report", "", "write each strategy's report into DIR/STRATEGY")
	extra := flag.String("set", "", "more what-if edits, comma-separated KEY=VALUE")
	sqliteDir := flag.String("sqlite", "", "use the embedded SQLite store in this (empty) directory instead of the in-memory store")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the replays to this file")
	memProfile := flag.String("memprofile", "", "write an allocation profile of the replays to this file at the end")
	compare := flag.String("compare", "", "instead of replaying, compare these comma-separated report directories into -report")
	flag.Parse()
	if *memProfile != "" {
		runtime.MemProfileRate = 64 * 1024
		defer func() {
			f, err := os.Create(*memProfile)
			if err == nil {
				err = pprof.Lookup("allocs").WriteTo(f, 0)
				_ = f.Close()
			}
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
			}
		}()
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	if *compare != "" {
		c, err := replay.Compare(strings.Split(*compare, ","))
		if err == nil {
			err = c.WriteHTML(*report)
		}
		if err == nil {
			err = c.WriteText(os.Stdout)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "replay-bench:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*days, *from, *chargers, *strategy, *horizon, *every, *skipBand, *report, *sqliteDir, *extra); err != nil {
		fmt.Fprintln(os.Stderr, "replay-bench:", err)
		os.Exit(1)
	}
}

func run(days int, fromS string, chargers int, strategies, horizon string, every int, skipBand bool, report, sqliteDir, extra string) error {
	data, err := gridd.Files.ReadFile(gridd.DemoConfigPath)
	if err != nil {
		return err
	}
	cfg, err := site.Parse(gridd.DemoConfigPath, data)
	if err != nil {
		return err
	}
	sets := []string{fmt.Sprintf("ev.chargers=%d", chargers), "site.horizon=" + horizon}
	if extra != "" {
		sets = append(sets, strings.Split(extra, ",")...)
	}
	cfg, err = replay.ApplySets(cfg, sets)
	if err != nil {
		return err
	}
	from, err := time.Parse("2006-01-02", fromS)
	if err != nil {
		return fmt.Errorf("-from: %w", err)
	}
	to := from.AddDate(0, 0, days)
	h, err := replay.LoadHistory(cfg, sim.DataDir, gridd.Files, from, to)
	if err != nil {
		return err
	}
	fmt.Printf("go %s, %d CPUs, %s/%s; %d days from %s, %d chargers, horizon %s, forecast every %d cycle(s), band skipped %v\n",
		runtime.Version(), runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, days, fromS, chargers, horizon, every, skipBand)
	for _, s := range strings.Split(strategies, ",") {
		t0 := time.Now()
		c0 := cpuTime()
		var ms runtime.MemStats
		opts := replay.Options{Config: cfg, History: h, From: from, To: to, Strategy: s, Sets: sets, ForecastEvery: every, SkipForecastBand: skipBand}
		if sqliteDir != "" {
			st, err := sqlite.Open(context.Background(), filepath.Join(sqliteDir, s))
			if err != nil {
				return err
			}
			defer st.Close()
			opts.Store = st
		}
		res, err := replay.Run(context.Background(), opts)
		if err != nil {
			return err
		}
		wall := time.Since(t0)
		cpu := cpuTime() - c0
		runtime.ReadMemStats(&ms)
		n := len(res.Steps)
		fmt.Printf("%-9s %6d cycles in %7.1f s wall = %7.1f cycles/s (CPU %.1f s = %.1f cycles per CPU-second); total cost %.2f %s, failed cycles %d, heap %d MB\n",
			s, n, wall.Seconds(), float64(n)/wall.Seconds(), cpu.Seconds(), float64(n)/cpu.Seconds(), res.KPIs.TotalCost, res.Currency, res.FailedCycles, ms.HeapAlloc>>20)
		for _, e := range res.CycleErrors {
			fmt.Printf("  cycle error: %s\n", e)
		}
		if report != "" {
			if err := res.WriteReport(filepath.Join(report, s)); err != nil {
				return err
			}
		}
	}
	return nil
}

// cpuTime is the process's user plus system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
