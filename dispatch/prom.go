package dispatch

import (
	"strings"

	"github.com/gridd/gridd/safety"
	"github.com/gridd/gridd/storage"
	"github.com/prometheus/client_golang/prometheus"
)

// prom holds the service's Prometheus metrics. They are created with the service and
// observed whether or not they are registered; RegisterMetrics registers them.
type prom struct {
	phase       *prometheus.HistogramVec
	iterations  prometheus.Histogram
	solverRuns  *prometheus.CounterVec
	cycleErrors prometheus.Counter
	pollErrors  prometheus.Counter
	clamps      prometheus.Counter
	writes      *prometheus.CounterVec
	control     prometheus.Histogram
	corrections prometheus.Counter
	keepAlives  prometheus.Counter
	transitions *prometheus.CounterVec
}

func newProm() *prom {
	return &prom{
		phase: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "gridd_cycle_phase_duration_seconds", Help: "Wall time of each phase of a dispatch cycle (poll, forecast, solve, write) and of the whole (total).",
			Buckets: []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
		}, []string{"phase"}),
		iterations: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "gridd_solver_iterations", Help: "Interior-point iterations per optimiser solve.",
			Buckets: []float64{5, 10, 15, 20, 30, 40, 60, 100, 200},
		}),
		solverRuns:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gridd_solver_runs_total", Help: "Optimiser runs by solver status."}, []string{"status"}),
		cycleErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "gridd_cycle_errors_total", Help: "Cycles that recorded an error."}),
		pollErrors:  prometheus.NewCounter(prometheus.CounterOpts{Name: "gridd_poll_errors_total", Help: "Device polls in cycles that got no answer."}),
		clamps:      prometheus.NewCounter(prometheus.CounterOpts{Name: "gridd_safety_clamps_total", Help: "Setpoints clamped by the safety envelope."}),
		writes:      prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gridd_setpoint_writes_total", Help: "Stored setpoint writes by outcome."}, []string{"status"}),
		control: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "gridd_control_latency_seconds", Help: "Real-time layer ticks: wall time from the start of the poll to the last read-back.",
			Buckets: controlBuckets,
		}),
		corrections: prometheus.NewCounter(prometheus.CounterOpts{Name: "gridd_control_corrections_total", Help: "Setpoints the real-time layer moved for a limit, the peak target or a battery's energy."}),
		keepAlives:  prometheus.NewCounter(prometheus.CounterOpts{Name: "gridd_keepalive_writes_total", Help: "Keep-alive re-writes of devices with a command watchdog."}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gridd_schedule_transitions_total", Help: "Schedule lifecycle events since start (propose, approve, reject, expire, supersede, ...), counted as they are audited."}, []string{"event"}),
	}
}

// RegisterMetrics registers the service's metrics with reg: cycle phases, solver
// iterations and status, writes, clamps, the real-time layer's latency, corrections
// and keep-alives, schedule lifecycle events, and gauges read at each scrape (kill
// switch, devices by comms state, active alarms, whether an approved schedule is in
// force). Nothing is read from the store at a scrape.
func (s *Service) RegisterMetrics(reg prometheus.Registerer) error {
	p := s.prom
	for _, st := range []storage.WriteStatus{storage.WriteOK, storage.WriteMismatch, storage.WriteFailed} {
		p.writes.WithLabelValues(string(st))
	}
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f)
	}
	cs := []prometheus.Collector{p.phase, p.iterations, p.solverRuns, p.cycleErrors, p.pollErrors, p.clamps, p.writes,
		p.control, p.corrections, p.keepAlives, p.transitions,
		gauge("gridd_kill_switch_engaged", "1 while the site kill switch pauses automation.", func() float64 {
			if s.env.KillSwitch().Engaged {
				return 1
			}
			return 0
		}),
		gauge("gridd_alarms_active", "Alarms whose condition lasts.", func() float64 {
			n := 0
			for _, a := range s.Alarms() {
				if a.Active {
					n++
				}
			}
			return float64(n)
		}),
		gauge("gridd_schedule_in_force", "1 while the last looked-up approved schedule covers the present.", func() float64 {
			s.mu.Lock()
			c := s.inForceCache
			s.mu.Unlock()
			if c != nil && covers(c, s.clock.Now()) {
				return 1
			}
			return 0
		}),
		gauge("gridd_stale_devices", "Devices that did not answer in the last cycle.", func() float64 {
			return float64(s.Metrics().StaleDevices)
		}),
	}
	for _, st := range []safety.CommsState{safety.CommsOnline, safety.CommsSuspect, safety.CommsLost, safety.CommsNotFollowing} {
		cs = append(cs, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "gridd_devices_comms", Help: "Controllable devices by comms state.", ConstLabels: prometheus.Labels{"state": string(st)},
		}, func() float64 {
			n := 0
			for _, d := range s.env.Status(s.clock.Now()) {
				if d.Comms == st {
					n++
				}
			}
			return float64(n)
		}))
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

func (p *prom) cycle(run *storage.CycleRun) {
	for _, ph := range []struct {
		name string
		ms   float64
	}{{"poll", run.PollMS}, {"forecast", run.ForecastMS}, {"solve", run.SolveMS}, {"write", run.WriteMS}, {"total", run.TotalMS}} {
		p.phase.WithLabelValues(ph.name).Observe(ph.ms / 1000)
	}
	if run.SolverStatus != "" {
		p.solverRuns.WithLabelValues(run.SolverStatus).Inc()
		p.iterations.Observe(float64(run.Iterations))
	}
	if run.Error != "" {
		p.cycleErrors.Inc()
	}
	p.pollErrors.Add(float64(run.StaleDevices))
}

// audited counts schedule lifecycle events as they are audited.
func (p *prom) audited(action string) {
	if ev, ok := strings.CutPrefix(action, "schedule."); ok {
		p.transitions.WithLabelValues(ev).Inc()
	}
}
