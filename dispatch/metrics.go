package dispatch

import (
	"sync"

	"github.com/gridd/gridd/storage"
)

// Metrics is a snapshot of the service's counters.
type Metrics struct {
	Cycles            int64
	CycleSecondsSum   float64
	LastCycleSeconds  float64
	SolveSecondsSum   float64
	LastSolveSeconds  float64
	PollErrors        int64 // device polls that failed (stale readings), cumulative
	StaleDevices      int   // in the last cycle
	CycleErrors       int64
	Clamps            int64
	WritesByStatus    map[storage.WriteStatus]int64
	SolverStatusCount map[string]int64
	// The real-time layer: ticks, their latency (poll start to last read-back),
	// setpoints it corrected, and keep-alive re-writes.
	ControlTicks          int64
	ControlSecondsSum     float64
	LastControlSeconds    float64
	ControlCorrections    int64
	KeepAlives            int64
	ControlLatencyBuckets []float64 // upper bounds, seconds
	ControlLatencyCounts  []int64   // cumulative counts per bucket
}

// controlBuckets are the control-loop latency histogram's upper bounds (seconds).
var controlBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8}

type metrics struct {
	mu sync.Mutex
	m  Metrics
}

func (m *metrics) cycle(run *storage.CycleRun) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.m.Cycles++
	m.m.LastCycleSeconds = run.TotalMS / 1000
	m.m.CycleSecondsSum += run.TotalMS / 1000
	m.m.LastSolveSeconds = run.SolveMS / 1000
	m.m.SolveSecondsSum += run.SolveMS / 1000
	m.m.PollErrors += int64(run.StaleDevices)
	m.m.StaleDevices = run.StaleDevices
	if run.Error != "" {
		m.m.CycleErrors++
	}
	if run.SolverStatus != "" {
		if m.m.SolverStatusCount == nil {
			m.m.SolverStatusCount = map[string]int64{}
		}
		m.m.SolverStatusCount[run.SolverStatus]++
	}
}

func (m *metrics) tick(r *TickResult) {
	m.mu.Lock()
	defer m.mu.Unlock()
	sec := r.Latency.Seconds()
	m.m.ControlTicks++
	m.m.ControlSecondsSum += sec
	m.m.LastControlSeconds = sec
	m.m.KeepAlives += int64(r.KeepAlives)
	if r.Corrections != nil {
		for _, sp := range r.Corrections.Setpoints {
			if sp.Corrected {
				m.m.ControlCorrections++
			}
		}
	}
	if m.m.ControlLatencyCounts == nil {
		m.m.ControlLatencyBuckets = controlBuckets
		m.m.ControlLatencyCounts = make([]int64, len(controlBuckets))
	}
	for i, b := range controlBuckets {
		if sec <= b {
			m.m.ControlLatencyCounts[i]++
		}
	}
}

func (m *metrics) clamp() {
	m.mu.Lock()
	m.m.Clamps++
	m.mu.Unlock()
}

func (m *metrics) write(st storage.WriteStatus) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.m.WritesByStatus == nil {
		m.m.WritesByStatus = map[storage.WriteStatus]int64{}
	}
	m.m.WritesByStatus[st]++
}

// Metrics returns a snapshot of the counters.
func (s *Service) Metrics() Metrics {
	s.metrics.mu.Lock()
	defer s.metrics.mu.Unlock()
	out := s.metrics.m
	out.WritesByStatus = map[storage.WriteStatus]int64{}
	for k, v := range s.metrics.m.WritesByStatus {
		out.WritesByStatus[k] = v
	}
	out.ControlLatencyCounts = append([]int64(nil), s.metrics.m.ControlLatencyCounts...)
	out.SolverStatusCount = map[string]int64{}
	for k, v := range s.metrics.m.SolverStatusCount {
		out.SolverStatusCount[k] = v
	}
	return out
}
