// Command forecastbench backtests gridd's forecast methods day-ahead from daily
// origins over one CSV series and prints one JSON object per method (WAPE, MASE
// against weekly seasonal naive, P10–P90 coverage, pinball loss). run.sh runs it
// next to R's forecast package (bench.R) on the series of docs/FORECASTING.md,
// and table.py turns the output into that page's table.
package main
