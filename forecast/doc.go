// Package forecast owns the load, PV and EV forecasts: given the measured
// history of one series and an issue time (Origin), it returns P10/P50/P90 for
// Steps intervals of length Step starting at Origin. It is pure computation: it
// reads no clock, does no I/O (except ReadCSV and ReadEVSessionsCSV) and imports nothing else from gridd.
//
// # Methods
//
//   - SeasonalNaive{Period}: the value for interval [t, t+Step) is the mean
//     measured value over [t−Period, t−Period+Step). If that interval does not end
//     by Origin (horizon longer than Period), t−2·Period is used, and so on. If the
//     source interval is a gap, up to MaxGapPeriods (default 3) further periods
//     back are searched; if none has data the forecast fails naming the step.
//   - Persistence: every step is the mean of the last hour of history (the hour
//     ending where the latest value ends, at most Origin), however old it is.
//   - Fallback (the naive chain; CLI "fallback"): weekly seasonal naive if the
//     history reaches back at least one week before Origin and every step can be
//     filled; else the same test for daily; else persistence; else an error
//     wrapping ErrNoHistory ("no history for SERIES before ORIGIN").
//     Result.Method names the method used: "seasonal_naive_weekly",
//     "seasonal_naive_daily" or "persistence".
//
// Stronger methods (fitted on a regular grid of Step, which must divide a day):
//
//   - Regression: weighted least squares (gonum/mat; weights halve every 3
//     weeks of age) over the last 8 weeks on local
//     hour-of-day × day type (weekday, Saturday, Sunday/holiday) and, if given,
//     heating/cooling degrees of a temperature series; the latest residual and
//     the residual a day before each target correct the forecast (nowcast
//     blending) with coefficients estimated directly for each lead time.
//   - DoubleSeasonal: additive exponential smoothing with daily and weekly
//     seasonality (Taylor 2003), weights picked from a grid by day-ahead MAE, plus
//     a correction by the latest one-step error with a coefficient estimated
//     directly for each lead time up to two days (then an AR(1) decay).
//   - Select: rolling-origin model selection. It fits weekly seasonal naive,
//     Regression, DoubleSeasonal and their mean, scores each at 14 earlier daily
//     origins (parameters from the fit at Origin, data only before each origin)
//     and issues the one with the lowest MAE; with too little history, or a Step
//     that does not divide a day, it is Fallback. It refits at every call
//     (CLI "select").
//   - Auto (the production forecaster: dispatch's default, CLI "auto", the
//     default of `gridd forecast backtest`): Select's choice (for a PV series
//     with Request.PV, PVClearSky against daily seasonal naive) fitted once per
//     series and UTC day of the forecast origin and cached, with the regression
//     given Request.Temperature; every call then issues the day's base forecast
//     corrected by the latest measured error with per-lead coefficients (the
//     nowcast) and the day's P10/P90 offsets. Fallback when nothing can be
//     fitted; the clear-sky shape (MethodPVPrior) for a PV series without
//     usable history. It uses the AutoHistory before the day (older history is
//     dropped) and, through HistoryFrom, tells callers that read a store how
//     little it needs on the cycles after the day's fit. One Auto serves one
//     site: the cache is keyed on the series name, the day, Step, Steps, the PV
//     array and the weather inputs, not on the history's values.
//   - PVClearSky: clear-sky array power from solar position (PVSite) times a
//     learned clear-sky index (profile by step of day over 14 days, scaled by the
//     persistence of the last day's index); with an irradiance series, a fitted
//     scale times GHI transposed at clear-sky geometry.
//   - EVProfiles: per charger, expected plug-ins per local hour and the median
//     dwell and energy of sessions by arrival hour, from session history;
//     EVProfile.Expect gives the expected plug-out and energy of a session whose
//     user gave no departure time, ExpectedArrivals the plug-ins per step.
//
// Band origins of the fitted methods reuse the parameters fitted at Origin, so
// their residuals are partly in-sample; they default to 56 band origins
// (DefaultFittedBandOrigins) instead of 28 to compensate. Backtests refit at
// every origin and measure the real coverage (docs/FORECASTING.md).
//
// Backtest runs any Forecaster over a list of origins and reports MAE, RMSE,
// bias, WAPE, MASE against weekly seasonal naive on the same origins, P10–P90
// coverage and pinball loss: the yardstick for stronger methods.
//
// # Resampling
//
// A history value at time s is taken to hold over [s, s+SampleInterval), cut
// short by the next history timestamp and by Origin. SampleInterval defaults to
// the median spacing of the history timestamps, so hourly data hold for an hour
// and a missing hour stays a gap instead of being bridged. The value of an output
// interval is the time-weighted mean of the values overlapping it; parts with no
// value are ignored. So 15-minute steps from hourly history take the value of the
// hour that covers them, and hourly steps from 15-minute history average the
// four quarters.
//
// # Quantiles
//
// P50 is the method's point forecast. P10/P90 come from the same method's
// residuals (actual − forecast) on the history itself: the method is re-run at
// Band.Origins earlier issue times (default 28, one day apart, so the time of day
// matches), each seeing only history before its own issue time, and every step
// whose actual is known before Origin yields a residual. If every lead-time
// bucket (default 1 h) holds at least Band.MinPerBucket residuals (default 20),
// P10/P90 = P50 + the bucket's 10 %/90 % residual quantiles (Band "lead_time");
// else P10/P90 = P50 ∓ the 80 % quantile of |residual| over all leads (Band
// "overall"); with no residual at all, P10 = P50 = P90 (Band "none"). The band is
// not forced to contain P50: a method that was biased over the backtest window
// gets a band shifted the same way. P10 <= P90 always holds. Band.Skip leaves the
// band out (no backtest; P10 = P50 = P90, Band "skipped") for callers that use only
// the median.
//
// Nothing is clamped unless Request.NonNegative is set; then P10, P50 and P90 are
// floored at 0. Under gridd's sign convention PV generation is negative, so PV is
// forecast as a positive magnitude with NonNegative and negated by the caller.
//
// # Input policy
//
//   - Only points with Time strictly before Origin are used; later points are
//     ignored (counted in Result.Input.AfterOrigin), never read. A point counts as
//     known once its timestamp is before Origin, so callers storing interval-start
//     aggregates must pass only completed intervals.
//   - NaN and ±Inf values are gaps: skipped, counted in Result.Input.NonFinite,
//     and still ending the previous value's interval. If every value before Origin
//     is non-finite the forecast fails with ErrNoHistory. The same holds for the
//     weather series (Request.Temperature, Request.GHI, Regression.Temperature,
//     PVClearSky.Irradiance). No method returns NaN: a step a method cannot
//     fill is an error naming it (Auto fills such steps from the naive floor
//     first).
//   - Duplicate timestamps (same instant, whatever the zone): the last one in
//     input order is kept, the others are dropped and counted.
//   - Unsorted history is sorted. A zero timestamp, or a finite value beyond
//     ±MaxAbsValue before Origin, is an error naming its index.
//   - Step <= 0, Steps <= 0, a zero Origin, Period <= 0 or shorter than Step, and
//     requests beyond MaxSteps/MaxHorizon/MaxPeriod are errors naming the series.
//
// # Time zones and DST
//
// All times are handled in UTC; results are UTC. Periods are exact durations
// (a day is 24 h), so DST never shifts a UTC series. Sources that record local
// wall-clock time must be converted to UTC by the reader before they reach this
// package (ReadCSV requires RFC 3339 timestamps, which carry their offset).
// Loads that follow local time will see the daily pattern move by an hour against
// UTC at a DST change; the seasonal naive methods carry that error for one period.
// Regression (and Select's regression candidate) takes a Location and builds its
// hour-of-day and day-type features in local time, so it follows the shift.
// DoubleSeasonal and PVClearSky work in UTC (the sun does not observe DST).
//
// Fitted methods resample the history onto a regular grid of Step before Origin;
// a grid step with no value is a gap: it is left out of the fits, leaves the
// exponential smoothing state unchanged and counts as a zero residual in the AR
// corrections. Nothing is interpolated into the history.
package forecast
