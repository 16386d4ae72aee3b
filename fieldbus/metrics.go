package fieldbus

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// pollMetrics are the poller's Prometheus metrics, per device.
type pollMetrics struct {
	latency *prometheus.HistogramVec
	errors  *prometheus.CounterVec
	stale   *prometheus.GaugeVec
}

// RegisterMetrics registers the poller's metrics with reg: per device, the wall time
// of each poll (gridd_poll_device_duration_seconds), the polls that got no answer
// (gridd_poll_device_errors_total) and whether its last poll was stale
// (gridd_poll_device_stale).
func (p *Poller) RegisterMetrics(reg prometheus.Registerer) error {
	m := &pollMetrics{
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "gridd_poll_device_duration_seconds", Help: "Wall time of one device's poll (all its reads, retries included).",
			Buckets: []float64{0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5},
		}, []string{"device"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gridd_poll_device_errors_total", Help: "Polls of a device that got no answer (stale readings).",
		}, []string{"device"}),
		stale: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gridd_poll_device_stale", Help: "1 while a device's last poll got no answer.",
		}, []string{"device"}),
	}
	for _, c := range []prometheus.Collector{m.latency, m.errors, m.stale} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	for _, d := range p.devs {
		m.errors.WithLabelValues(d.ID)
		m.stale.WithLabelValues(d.ID)
	}
	p.metrics.Store(m)
	return nil
}

func (m *pollMetrics) observe(r Reading) {
	if m == nil {
		return
	}
	m.latency.WithLabelValues(r.DeviceID).Observe(r.Latency.Seconds())
	stale := 0.0
	if r.Stale {
		stale = 1
		m.errors.WithLabelValues(r.DeviceID).Inc()
	}
	m.stale.WithLabelValues(r.DeviceID).Set(stale)
}

// writeMetrics are the writer's Prometheus metrics.
type writeMetrics struct {
	writes *prometheus.CounterVec
}

// RegisterMetrics registers the writer's metrics with reg: writes per device by
// outcome (gridd_field_writes_total{device,result}: ok, mismatch, refused, failed).
func (w *Writer) RegisterMetrics(reg prometheus.Registerer) error {
	m := &writeMetrics{writes: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gridd_field_writes_total", Help: "Setpoint writes to field devices by outcome: ok (read back as written), mismatch, refused (outside the profile's limits or not writable), failed.",
	}, []string{"device", "result"})}
	if err := reg.Register(m.writes); err != nil {
		return err
	}
	w.metrics.Store(m)
	return nil
}

func (m *writeMetrics) observe(device string, res WriteResult, err error) {
	if m == nil {
		return
	}
	result := "ok"
	switch {
	case errors.Is(err, ErrNotWritable) || errors.Is(err, ErrOutOfLimits) || errors.Is(err, ErrEncode):
		result = "refused"
	case err != nil:
		result = "failed"
	case res.Mismatch:
		result = "mismatch"
	}
	m.writes.WithLabelValues(device, result).Inc()
}
