// Package district coordinates many gridd sites that share upstream
// equipment: distribution transformers and feeders whose import limit no
// site may plan against alone.
//
// # Model
//
// A district file (district.yaml, Parse/Load) lists the sites (a site
// config, or a remote gridd that joins by ID), the shared nodes with their
// import limit (constant, narrowed by time-of-day windows), the sites below
// each node and the nodes' nesting (parent). Validation names the file, the
// field and the value: duplicate site or node IDs, a node with no site
// below it, a cycle in the tree, an unknown site or parent, a site below two
// nodes. Config.Limits turns it into per-step Limits over site indices.
//
// # Coordination
//
// Coordinate runs one coordination of the district's sites for one horizon
// (every site on the same steps). Round r sends each site a price per kWh
// of import per step, the sum of the prices λ_{k,t} ≥ 0 of the limits above
// it; each site re-solves its own LP with the price added to its import
// price (warm-started) and answers its plan's import profile, its own cost
// and its solver's dual bound. Two things follow from the answers:
//
//   - a certified lower bound on the district optimum, the Lagrangian dual
//     Σ_i bound_i(λ) − Σ_{k,t} λ_{k,t}·dt·L_{k,t} (valid for any λ ≥ 0,
//     since each site's bound is below its priced optimum);
//   - an upper bound from a restricted master LP (Dantzig–Wolfe): for each
//     site, a convex combination of the plans it has offered so far that
//     minimises their cost while the combined imports keep every limit.
//     A convex combination of a site's plans is a plan the site can follow
//     at no more than the combined cost (its LP is convex), so the
//     master's cost bounds what the district can reach with these caps.
//
// From the second round on, each request also carries caps: the last
// master's combination (or, before one keeps the limits, its
// least-violating one) made into caps that keep every limit (Allocate).
// The site answers its plan under them next to its priced plan. When every
// site keeps its caps, the round's capped plans are a district plan that
// keeps every limit: a true upper bound and a candidate result. Capped
// plans also enter the master as columns that keep the limits, so it finds
// a feasible combination rounds earlier than from priced plans alone.
// Columns the master has given no weight for three rounds are dropped (the
// master's set-up and iterations grow with its columns); the rows of
// limits that have limits below them are factored last
// (ipm.Options.LastRows), which keeps each transformer's block of the
// normal equations apart from the others'.
//
// The next prices are the master's duals, smoothed half-way towards the
// prices of the best lower bound so far (stabilised column generation).
// For linear programs this converges to the centralised optimum; each
// round reports the primal residual (the largest excess of the priced
// plans over a limit), both bounds and the gap. It stops when the gap is
// below GapPct, after MaxRounds, or when another round and the capped round
// after it would end past the TimeBudget.
//
// # Caps: safety never depends on convergence
//
// At the end every site gets a per-step import cap (Allocate): its import
// in the master's combination, scaled down wherever a sum would exceed a
// limit and raised by a share of the headroom left, so that Σ caps ≤ limit
// holds for every shared node and step by construction, whatever the
// rounds reached. The capped round then asks every site to plan under its
// cap; the result is the best round of capped answers, this one or an
// earlier one: the lowest cost, counting the energy that sites unable to
// keep their caps would put above them at 100 per kWh. When the time
// budget leaves no room for the capped round, the best earlier one is the
// result (its caps were made the same way). A site that does not answer in time, answers garbage (wrong length,
// non-finite values, a bound above its own objective, another round's
// answer) or a plan that breaks its cap is excluded for the rest of the
// coordination with an Event (alarm and audit), and is capped from its last
// known plan (this coordination's, else Options.Known, else an equal share
// of each limit above it), raised to the caps it holds from an earlier
// coordination (Options.KnownCaps); the limits left for the others are reduced by
// that reservation.
//
// Centralised solves the same district as one LP with gridd's own solver
// (optimizer.SolveShared), the reference the tests and benchmarks measure
// the coordinated cost against. Generate builds districts of demo-like
// sites from the bundled data with limits that bind.
package district
