// Package prices is where dispatch and replay get the import and export price of each
// step: a Source takes a context and a run of steps and returns one price per step
// (per kWh, in the tariff's currency) or an error.
//
// Two kinds of source, chosen by the site config (FromConfig):
//
//   - TOU, the time-of-use bands of tariff.import and tariff.export (or the flat
//     tariff.export_price_per_kwh), in site local time;
//   - Feed, a dynamic day-ahead series (tariff.day_ahead), e.g. an Agile-style
//     half-hourly series: read from a CSV file at start and again whenever it
//     changes (Feed.Reload, called before each cycle: a job that rewrites the file
//     each afternoon feeds the next day's prices) and/or pushed over the API
//     (PUT /api/v1/prices, Feed.Put). Each price holds for the feed's interval from
//     its time on; a step takes the price in force at its start, as with TOU. A step
//     the feed does not cover takes the import bands' price when
//     tariff.day_ahead.fallback is "tou" (the default when bands are given); with
//     "none" Prices fails with an error naming the first uncovered step and what the
//     feed covers, and the cycle fails as any cycle whose inputs are missing does
//     (the safe state applies once no schedule is in force). A point without an
//     export price takes the tariff's export price, capped at the step's import
//     price: export never pays more than import at the same time (the optimiser
//     refuses such a scenario), so a negative import price brings export down with
//     it. A point that gives both may not have export above import.
//
// Bad input (a file line, an API point) is refused whole with an error naming the
// line or point, the field and the value. A new kind of tariff is a new Source here
// and a case in FromConfig (CONTRIBUTING.md, "A new tariff type").
package prices
