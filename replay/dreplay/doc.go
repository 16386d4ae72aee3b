// Package dreplay replays a district: every site of a district file through
// its own replay loop (replay.Run: dispatch.Service.RunCycle, the real-time
// layer and the recorded actuals, as one site's `gridd replay`), all in
// lock-step, one district cycle per step, under one of three strategies:
//
//   - coordinated: each cycle district.Coordinate runs in this process over
//     the sites' current scenarios (each site's dispatch.DistrictScenario,
//     the cycle's scenario with every external limit but the district's own,
//     as `gridd run --district` answers rounds; district.Solver answers for
//     it), and each site gets its caps;
//   - independent: each site is capped at a static share of every shared
//     limit above it (district.Allocate of its peak import planned alone over
//     the first cycle's horizon) and plans alone;
//   - centralised: each cycle the district is solved as one LP
//     (district.Centralised) and each site gets caps from its part of the
//     optimum (district.Allocate of its planned import: its plan and a share
//     of any headroom, as coordinated caps are made).
//
// The lock-step goes through replay.Hooks: each site's solver hook hands the
// cycle's scenario to the district and waits for the caps, then plans within
// them; after the cycle the caps go in force as the site's external limit
// from source district (dispatch.SetLimit, replacing the previous cycle's),
// so the real-time layer holds them against the step's actuals as it holds
// them in production. A site whose cycle builds no scenario still takes part
// (the coordination caps it from its last known caps).
//
// KPIs are each site's replay KPIs and, for the district, the summed costs,
// every shared node's highest loading, steps and energy over its limit on
// the metered (step-mean, after control) imports, the largest excess of any
// cycle's caps over a limit (0 by construction), and for coordinated the
// rounds and certified gap per cycle. WriteReport writes district.json,
// district.txt, report.html and each site's own replay report.
//
// Generate writes a district of demo-like sites replayed from the bundled
// data (`gridd district generate`), with limits sized on the data's year so
// that they bind.
package dreplay
