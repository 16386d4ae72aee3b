# Day-ahead backtest of R forecast::stlf and forecast::ets on the same daily
# origins as forecastbench. Usage:
#   Rscript bench.R FILE.csv VALUE_COLUMN FROM TO EVERY [TRAIN_DAYS [METHODS]]
# Origins are 00:00 UTC of every EVERY-th day in [FROM, TO); each fit sees the
# TRAIN_DAYS (default 56) days of hourly data before its origin, gaps filled by
# forecast::na.interp. METHODS is "stlf,ets" (default), "stlf" or "ets".
# Prints one JSON line per method.
suppressMessages(library(forecast))
a <- commandArgs(trailingOnly = TRUE)
file <- a[1]; col <- a[2]; from <- as.POSIXct(a[3], tz = "UTC"); to <- as.POSIXct(a[4], tz = "UTC")
every <- as.integer(a[5]); train <- if (length(a) >= 6) as.integer(a[6]) else 56L
methods <- if (length(a) >= 7) strsplit(a[7], ",")[[1]] else c("stlf", "ets")
d <- read.csv(file, stringsAsFactors = FALSE)
tt <- as.POSIXct(d$timestamp_utc, format = "%Y-%m-%dT%H:%M:%SZ", tz = "UTC")
grid <- seq(min(tt), max(tt), by = "hour")
y <- rep(NA_real_, length(grid)); y[match(tt, grid)] <- d[[col]]
origins <- seq(from, to - 1, by = paste(every, "days"))
acc <- list()
for (m in methods) acc[[m]] <- c(abs = 0, nabs = 0, act = 0, cov = 0, n = 0, pin = 0, secs = 0)
for (o in as.list(origins)) {
  i0 <- match(o, grid); if (is.na(i0)) next
  hist <- y[(i0 - train * 24):(i0 - 1)]
  act <- y[i0:(i0 + 23)]; naive <- y[(i0 - 168):(i0 - 168 + 23)]
  ok <- !is.na(act) & !is.na(naive)
  x <- na.interp(msts(hist, seasonal.periods = c(24, 168)))
  for (m in methods) {
    t0 <- proc.time()[["elapsed"]]
    fc <- if (m == "stlf") stlf(x, h = 24, level = 80) else forecast(ets(ts(as.numeric(x), frequency = 24)), h = 24, level = 80)
    el <- proc.time()[["elapsed"]] - t0
    p50 <- as.numeric(fc$mean); lo <- as.numeric(fc$lower); hi <- as.numeric(fc$upper)
    pb <- function(q, f) ifelse(act >= f, q * (act - f), (1 - q) * (f - act))
    s <- acc[[m]]
    s["abs"] <- s["abs"] + sum(abs(p50 - act)[ok]); s["nabs"] <- s["nabs"] + sum(abs(naive - act)[ok])
    s["act"] <- s["act"] + sum(abs(act)[ok]); s["cov"] <- s["cov"] + sum((lo <= act & act <= hi)[ok])
    s["n"] <- s["n"] + sum(ok); s["pin"] <- s["pin"] + sum((pb(0.1, lo) + pb(0.5, p50) + pb(0.9, hi))[ok]) / 3
    s["secs"] <- s["secs"] + el
    acc[[m]] <- s
  }
}
for (m in names(acc)) {
  s <- acc[[m]]
  cat(sprintf('{"series":"%s","method":"R_%s","origins":%d,"points":%d,"wape":%.4f,"mase":%.4f,"coverage":%.4f,"pinball":%.4f,"seconds":%.1f}\n',
    col, m, length(origins), as.integer(s["n"]), s["abs"] / s["act"], s["abs"] / s["nabs"], s["cov"] / s["n"], s["pin"] / s["n"], s["secs"]))
}
