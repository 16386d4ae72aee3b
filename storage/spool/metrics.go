package spool

import "github.com/prometheus/client_golang/prometheus"

// RegisterMetrics registers the spool's metrics with reg, read from Stats at each
// scrape: records and bytes waiting to be flushed (gridd_spool_pending_records,
// gridd_spool_pending_bytes), the bound (gridd_spool_max_bytes), whether it is full
// (gridd_spool_full) and records refused because it was (gridd_spool_refused_total).
func (s *Store) RegisterMetrics(reg prometheus.Registerer) error {
	gauge := func(name, help string, f func(Stats) float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 { return f(s.Stats()) })
	}
	for _, c := range []prometheus.Collector{
		gauge("gridd_spool_pending_records", "Records waiting in the outage spool to be flushed to the database.", func(st Stats) float64 { return float64(st.PendingRecords) }),
		gauge("gridd_spool_pending_bytes", "Bytes waiting in the outage spool to be flushed to the database.", func(st Stats) float64 { return float64(st.PendingBytes) }),
		gauge("gridd_spool_full", "1 while the spool refuses telemetry because it is full.", func(st Stats) float64 {
			if st.Full {
				return 1
			}
			return 0
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "gridd_spool_max_bytes", Help: "The spool's bound in bytes."}, func() float64 { return float64(s.MaxBytes()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "gridd_spool_refused_total", Help: "Writes the spool refused because it was full."}, func() float64 { return float64(s.Stats().Refused) }),
	} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}
