package optimizer

import (
	"fmt"
	"math"
)

// subtree sums, per step, what the assets below a node can do.
type subtree struct {
	load, fixedPV float64 // fixed consumption and non-curtailable generation
	down, up      float64 // how far flexible assets can lower / raise the net power
	lo, hi        float64 // achievable net power range, respecting child node limits
}

// precheck finds conflicts that make a validated scenario infeasible for
// simple reasons, and words them precisely: a node or grid limit that the
// fixed load or non-curtailable PV must exceed whatever the flexible assets
// do, and a battery terminal SoC that cannot be reached. It is a necessary
// check only; the solver detects the rest.
func precheck(s *Scenario) []string {
	var out []string
	T := s.Steps
	dt := s.StepHours()
	idx, _, children, root := newTree(s)
	nN := len(s.Nodes)

	// Per node own contributions for step t.
	own := make([]subtree, nN)
	post := postOrder(root, children)
	type firstBad struct {
		msg   string
		count int
	}
	badNode := make([]firstBad, nN)
	badNodeRev := make([]firstBad, nN)
	var badImport, badExport firstBad
	note := func(fb *firstBad, msg func() string) {
		if fb.count == 0 {
			fb.msg = msg()
		}
		fb.count++
	}
	for t := 0; t < T; t++ {
		for n := range own {
			own[n] = subtree{}
		}
		for _, l := range s.Loads {
			own[idx[l.Node]].load += l.ForecastKW[t]
		}
		for _, pv := range s.PV {
			n := idx[pv.Node]
			if pv.Curtailable {
				own[n].down += pv.ForecastKW[t]
			} else {
				own[n].fixedPV += pv.ForecastKW[t]
			}
		}
		for _, b := range s.Batteries {
			n := idx[b.Node]
			own[n].down += b.MaxDischargeKW
			own[n].up += b.MaxChargeKW
		}
		for _, e := range s.EVSessions {
			if t >= e.ArrivalStep && t < e.DepartureStep {
				n := idx[e.Node]
				own[n].down += e.MaxDischargeKW
				own[n].up += e.MaxChargeKW
			}
		}
		sub := make([]subtree, nN)
		for _, n := range post {
			st := own[n]
			st.lo = st.load - st.fixedPV - st.down
			st.hi = st.load - st.fixedPV + st.up
			for _, c := range children[n] {
				cs := sub[c]
				st.load += cs.load
				st.fixedPV += cs.fixedPV
				st.down += cs.down
				st.up += cs.up
				lim := s.Nodes[c].LimitKW
				st.lo += math.Max(cs.lo, -lim)
				st.hi += math.Min(cs.hi, lim)
			}
			sub[n] = st
			lim := s.Nodes[n].LimitKW
			tol := 1e-9 * (1 + lim)
			if st.lo > lim+tol {
				note(&badNode[n], func() string {
					return fmt.Sprintf("node %s limit %g kW at step %d (%s) is below the %.4g kW its subtree must draw at least (loads %.4g kW, non-curtailable PV %.4g kW, flexible assets can offset at most %.4g kW)",
						s.Nodes[n].ID, lim, t, s.StepTime(t).Format("15:04"), st.lo, st.load, st.fixedPV, st.down)
				})
			}
			if st.hi < -lim-tol {
				note(&badNodeRev[n], func() string {
					return fmt.Sprintf("node %s limit %g kW at step %d (%s) is below the %.4g kW its subtree must feed back at least (non-curtailable PV %.4g kW, loads %.4g kW, flexible assets can absorb at most %.4g kW)",
						s.Nodes[n].ID, lim, t, s.StepTime(t).Format("15:04"), -st.hi, st.fixedPV, st.load, st.up)
				})
			}
		}
		r := sub[root]
		rl := s.Nodes[root].LimitKW
		lo, hi := math.Max(r.lo, -rl), math.Min(r.hi, rl)
		if il := s.Grid.ImportLimitAt(t); lo > il+1e-9*(1+il) {
			note(&badImport, func() string {
				return fmt.Sprintf("grid %s %g is below the %.4g kW the site must import at least at step %d (%s) (loads %.4g kW, non-curtailable PV %.4g kW, flexible assets can offset at most %.4g kW)",
					s.Grid.importName(t), il, lo, t, s.StepTime(t).Format("15:04"), r.load, r.fixedPV, r.down)
			})
		}
		if el := s.Grid.ExportLimitAt(t); hi < -el-1e-9*(1+el) {
			note(&badExport, func() string {
				return fmt.Sprintf("grid %s %g is below the %.4g kW the site must export at least at step %d (%s): PV is not curtailable (non-curtailable PV %.4g kW, loads %.4g kW, flexible assets can absorb at most %.4g kW)",
					s.Grid.exportName(t), el, -hi, t, s.StepTime(t).Format("15:04"), r.fixedPV, r.load, r.up)
			})
		}
	}
	add := func(fb firstBad) {
		if fb.count == 0 {
			return
		}
		if fb.count > 1 {
			out = append(out, fmt.Sprintf("%s (and at %d more steps)", fb.msg, fb.count-1))
			return
		}
		out = append(out, fb.msg)
	}
	add(badImport)
	add(badExport)
	for n := range s.Nodes {
		add(badNode[n])
		add(badNodeRev[n])
	}

	for _, b := range s.Batteries {
		if b.TerminalSoCKWh == nil {
			continue
		}
		reach := math.Min(b.MaxSoCKWh, b.SoCKWh+float64(T)*dt*b.ChargeEfficiency*b.MaxChargeKW)
		if ts := *b.TerminalSoCKWh; ts > reach+1e-9*(1+ts) {
			out = append(out, fmt.Sprintf("battery %s terminal_soc_kwh %g is unreachable: at most %.4g kWh can be reached from soc_kwh %g in %d steps at max_charge_kw %g and charge_efficiency %g",
				b.ID, ts, reach, b.SoCKWh, T, b.MaxChargeKW, b.ChargeEfficiency))
		}
	}
	return out
}

// postOrder lists the nodes children-first.
func postOrder(root int, children [][]int) []int {
	var out []int
	type frame struct{ n, next int }
	stack := []frame{{root, 0}}
	for len(stack) > 0 {
		top := &stack[len(stack)-1]
		if top.next < len(children[top.n]) {
			c := children[top.n][top.next]
			top.next++
			stack = append(stack, frame{c, 0})
			continue
		}
		out = append(out, top.n)
		stack = stack[:len(stack)-1]
	}
	return out
}
