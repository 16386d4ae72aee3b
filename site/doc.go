// Package site owns the domain model and the site configuration file: identity,
// timing (cycle cron spec, step, horizon), tariff, grid connection, the radial node
// tree and the devices with their ratings.
//
// Load reads and validates a YAML config; every error is a FieldError naming the
// file, the field path and the bad value. Tariff turns the time-of-use bands into
// per-step prices.
//
// Sign convention for the whole project: positive power is drawn from the site bus
// (battery charging, load, EV charging, grid import at the root); negative power is
// fed into it (PV, battery discharge, V2G, export).
//
// site imports nothing else from gridd but clock-free standard library code, so every
// other package may import it.
package site
