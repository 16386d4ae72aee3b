// Command district benchmarks the district coordinator: for each size, a district
// of generated demo-like sites (optimizer/scengen data, limits that bind) is
// coordinated over NATS with the sites served by -procs child processes of this
// command on loopback, and solved centrally as one LP by gridd's own solver in the
// same run. It prints one markdown row per size.
//
//	go run ./bench/district -sizes 10,100,1000 -procs 3
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gridd/gridd"
	"github.com/gridd/gridd/district"
	"github.com/gridd/gridd/district/dnats"
	"github.com/gridd/gridd/optimizer"
)

func main() {
	sizes := flag.String("sizes", "10,100,1000", "district sizes (sites)")
	procs := flag.Int("procs", 3, "site processes")
	seed := flag.Uint64("seed", 1, "generator seed")
	budget := flag.Duration("budget", 60*time.Second, "coordination time budget")
	central := flag.Int("central-max", 1000, "solve the centralised LP up to this many sites")
	serve := flag.Bool("serve", false, "(child) serve sites")
	url := flag.String("nats", "", "(child) NATS URL")
	n := flag.Int("sites", 0, "(child) district size")
	k := flag.Int("proc", 0, "(child) this process's index")
	days := flag.Int("days", 0, "instead: compare coordinated, static share and centralised over this many generated district-days")
	daySites := flag.Int("day-sites", 10, "with -days: sites per district")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *days > 0 {
		if err := compareDays(ctx, *days, *daySites, *budget); err != nil {
			fmt.Fprintln(os.Stderr, "district bench:", err)
			os.Exit(1)
		}
		return
	}
	if *serve {
		if err := serveSites(ctx, *url, *n, *seed, *k, *procs); err != nil {
			fmt.Fprintln(os.Stderr, "district bench child:", err)
			os.Exit(1)
		}
		return
	}
	fmt.Printf("| sites | shared limits | independent | centralised | coordinated | gap to centralised | certified gap | rounds | time per round | messages per round | coordination wall | centralised wall |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, s := range strings.Split(*sizes, ",") {
		size, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		if err := one(ctx, size, *procs, *seed, *budget, size <= *central); err != nil {
			fmt.Fprintln(os.Stderr, "district bench:", err)
			os.Exit(1)
		}
	}
}

func params(n int, seed uint64) district.GenParams { return district.GenParams{Sites: n, Seed: seed} }

func one(ctx context.Context, n, procs int, seed uint64, budget time.Duration, central bool) error {
	dir, err := os.MkdirTemp("", "gridd-district-bench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ns, url, err := dnats.Embedded(dir)
	if err != nil {
		return err
	}
	defer ns.Shutdown()
	var children []*exec.Cmd
	for k := 0; k < procs; k++ {
		cmd := exec.CommandContext(ctx, os.Args[0], "-serve", "-nats", url, "-sites", strconv.Itoa(n), "-seed", strconv.FormatUint(seed, 10),
			"-proc", strconv.Itoa(k), "-procs", strconv.Itoa(procs))
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			return err
		}
		children = append(children, cmd)
	}
	defer func() {
		for _, c := range children {
			_ = c.Process.Signal(os.Interrupt)
			_ = c.Wait()
		}
	}()
	g, err := district.Generate(ctx, gridd.Files, params(n, seed))
	if err != nil {
		return err
	}
	cfg, err := g.Config("bench")
	if err != nil {
		return err
	}
	cfg.Coordination.TimeBudget.D = budget
	cfg.Coordination.RoundTimeout.D = budget
	cfg.Coordination.MaxRounds = 200
	cfg.Coordination.GapPct = 0.5
	nc, err := dnats.Connect(url, "bench-coordinator")
	if err != nil {
		return err
	}
	defer nc.Close()
	bus, err := dnats.Open(ctx, nc, "bench", 1)
	if err != nil {
		return err
	}
	co := &dnats.Coordinator{Bus: bus, Config: cfg, Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))}
	for deadline := time.Now().Add(5 * time.Minute); ; {
		regs, err := co.Registered(ctx)
		if err == nil && len(regs) == n {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d sites: only %d registered", n, len(regs))
		}
		time.Sleep(200 * time.Millisecond)
	}
	load := loadavg()
	t0 := time.Now()
	res, err := co.RunOnce(ctx, g.Scenarios[0].Start)
	if err != nil {
		return err
	}
	wall := time.Since(t0)
	if ex, where := district.Check(res.CapsKW, g.Limits); ex > 1e-9 {
		return fmt.Errorf("caps break a shared limit: %s", where)
	}
	cenCost, cenWall := "—", "—"
	gapCen := "—"
	if central {
		t1 := time.Now()
		cen, err := district.Centralised(ctx, g.Scenarios, g.Limits)
		if err != nil {
			return err
		}
		cenWall = fmt.Sprintf("%.1f s", time.Since(t1).Seconds())
		cenCost = fmt.Sprintf("%.2f", cen.Objective)
		gapCen = fmt.Sprintf("%.3f %%", 100*(res.Cost-cen.Objective)/cen.Objective)
	}
	perRound := 0.0
	msgs := 0
	for _, r := range res.Rounds {
		perRound += r.DurationMS
		msgs += r.Messages
	}
	rounds := len(res.Rounds)
	fmt.Printf("| %d | %d | %.2f | %s | %.2f | %s | %.3f %% | %d | %.0f ms | %d | %.1f s | %s |\n", n, len(g.Limits), g.IndependentCost, cenCost, res.Cost, gapCen,
		res.GapPct, rounds, perRound/float64(rounds), msgs/rounds, wall.Seconds(), cenWall)
	master := 0.0
	for _, r := range res.Rounds {
		master += r.MasterMS
	}
	fmt.Fprintf(os.Stderr, "%d sites: load before %s, %d excluded, %d CPUs, master %.0f ms in all\n", n, load, len(res.Excluded), runtime.NumCPU(), master)
	for _, e := range res.Events {
		fmt.Fprintf(os.Stderr, "  event %s %s: %s\n", e.Kind, e.Site, e.Detail)
	}
	return nil
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// serveSites runs the participants of the sites i with i mod procs == k, each on
// its own connection.
func serveSites(ctx context.Context, url string, n int, seed uint64, k, procs int) error {
	ids, scns, err := district.GenerateSites(gridd.Files, params(n, seed), func(i int) bool { return i%procs == k })
	if err != nil {
		return err
	}
	log := slog.New(slog.DiscardHandler)
	var wg sync.WaitGroup
	for i, s := range scns {
		if s == nil || i%procs != k {
			continue
		}
		nc, err := dnats.Connect(url, "bench-"+ids[i])
		if err != nil {
			return err
		}
		bus, err := dnats.Open(ctx, nc, "bench", 1)
		if err != nil {
			return err
		}
		p := &dnats.Participant{Bus: bus, Site: ids[i], Instance: ids[i], Log: log,
			Scenario: func(context.Context, time.Time, int) (*optimizer.Scenario, error) { return s, nil },
			Apply:    func(context.Context, dnats.Caps) error { return nil }}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer nc.Close()
			_ = p.Run(ctx)
		}()
	}
	wg.Wait()
	return nil
}

// compareDays plans n generated district-days (seeds 1..n) three ways and prints
// the totals: coordinated (Coordinate over the sites in this process), independent
// under a static share of each shared limit (each site capped at its share, in
// proportion to its own peak planned alone), and the centralised optimum.
func compareDays(ctx context.Context, n, sites int, budget time.Duration) error {
	var cost [3]float64
	var peak [3]float64 // highest loading of a shared limit, fraction
	var over [3]float64 // kW·h planned above a cap or limit
	infeasible := 0
	coordInfeasible := 0
	rounds := 0
	for d := 1; d <= n; d++ {
		g, err := district.Generate(ctx, gridd.Files, district.GenParams{Sites: sites, Seed: uint64(d)})
		if err != nil {
			return err
		}
		s0 := g.Scenarios[0]
		dt := s0.StepHours()
		res, err := district.Coordinate(ctx, g.Sites(), g.Limits, district.Options{Start: s0.Start, StepMinutes: s0.StepMinutes, Steps: s0.Steps,
			TimeBudget: budget, MaxRounds: 60, GapPct: 0.5})
		if err != nil {
			return err
		}
		rounds += len(res.Rounds)
		for _, e := range res.Events {
			if e.Kind == district.EventSiteCapInfeasible || e.Kind == district.EventSiteCapBroken {
				coordInfeasible++
			}
		}
		cost[0] += res.Cost
		peak[0] = max(peak[0], loading(res.PlansKW, g.Limits))
		// Static share.
		want := make([][]float64, sites)
		for i := range want {
			p := 0.0
			for _, v := range g.IndependentKW[i] {
				p = max(p, v)
			}
			want[i] = make([]float64, s0.Steps)
			for t := range want[i] {
				want[i][t] = p
			}
		}
		avail := make([][]float64, len(g.Limits))
		for k, l := range g.Limits {
			avail[k] = l.LimitKW
		}
		caps := district.Allocate(want, g.Limits, avail, s0.Steps)
		plans := make([][]float64, sites)
		for i, scn := range g.Scenarios {
			c := *scn
			c.Grid.ImportCapKW = caps[i]
			plan, err := optimizer.Solve(ctx, &c, optimizer.Options{})
			if err != nil {
				infeasible++
				if plan, err = optimizer.Solve(ctx, &c, optimizer.Options{Soft: true}); err != nil {
					return err
				}
				for t, v := range plan.GridImportKW {
					over[1] += max(0, v-caps[i][t]) * dt
				}
			}
			cost[1] += plan.Objective - plan.CostBreakdown.ViolationPenalty
			plans[i] = plan.GridImportKW
		}
		peak[1] = max(peak[1], loading(plans, g.Limits))
		cen, err := district.Centralised(ctx, g.Scenarios, g.Limits)
		if err != nil {
			return err
		}
		cost[2] += cen.Objective
		cp := make([][]float64, sites)
		for i, p := range cen.Plans {
			cp[i] = p.GridImportKW
		}
		peak[2] = max(peak[2], loading(cp, g.Limits))
		fmt.Fprintf(os.Stderr, "day %d: coordinated %.2f (%d rounds), static share %.2f, centralised %.2f\n", d, res.Cost, len(res.Rounds), cost[1], cen.Objective)
	}
	fmt.Printf("| plan | district cost over %d days | vs centralised | highest shared loading | site-days that cannot keep their cap |\n|---|---|---|---|---|\n", n)
	names := []string{"coordinated", "independent, static share", "centralised"}
	for k, name := range names {
		var extra string
		switch k {
		case 0:
			extra = fmt.Sprintf("%d of %d", coordInfeasible, n*sites)
		case 1:
			extra = fmt.Sprintf("%d of %d (%.0f kWh over their caps)", infeasible, n*sites, over[1])
		default:
			extra = "— (no caps: one LP)"
		}
		fmt.Printf("| %s | %.2f | %+.3f %% | %.1f %% | %s |\n", name, cost[k], 100*(cost[k]-cost[2])/cost[2], 100*peak[k], extra)
	}
	fmt.Printf("\n%d coordination rounds in all (%.1f per day)\n", rounds, float64(rounds)/float64(n))
	return nil
}

// loading returns the highest Σ import / limit over every shared limit and step.
func loading(plans [][]float64, limits []district.Limit) float64 {
	m := 0.0
	for _, l := range limits {
		for t, lim := range l.LimitKW {
			s := 0.0
			for _, i := range l.Sites {
				s += plans[i][t]
			}
			m = max(m, s/lim)
		}
	}
	return m
}
