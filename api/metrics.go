package api

import (
	"bytes"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/gridd/gridd/safety"
	"github.com/gridd/gridd/storage"
)

// promWriter writes the Prometheus text exposition format (version 0.0.4).
type promWriter struct{ b bytes.Buffer }

func (p *promWriter) family(name, typ, help string) {
	fmt.Fprintf(&p.b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
}

func (p *promWriter) sample(name string, labels map[string]string, v float64) {
	p.b.WriteString(name)
	if len(labels) > 0 {
		keys := make([]string, 0, len(labels))
		for k := range labels {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		p.b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				p.b.WriteByte(',')
			}
			fmt.Fprintf(&p.b, "%s=%q", k, escapeLabel(labels[k]))
		}
		p.b.WriteByte('}')
	}
	p.b.WriteByte(' ')
	p.b.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
	p.b.WriteByte('\n')
}

func escapeLabel(s string) string { return strings.ReplaceAll(s, "\n", `\n`) }

func (s *Server) metrics(w http.ResponseWriter, r *http.Request) {
	m := s.svc.Metrics()
	var p promWriter
	p.family("gridd_cycle_duration_seconds", "summary", "Wall time of dispatch cycles.")
	p.sample("gridd_cycle_duration_seconds_sum", nil, m.CycleSecondsSum)
	p.sample("gridd_cycle_duration_seconds_count", nil, float64(m.Cycles))
	p.family("gridd_last_cycle_duration_seconds", "gauge", "Wall time of the last dispatch cycle.")
	p.sample("gridd_last_cycle_duration_seconds", nil, m.LastCycleSeconds)
	p.family("gridd_solver_duration_seconds", "summary", "Wall time of optimiser solves.")
	p.sample("gridd_solver_duration_seconds_sum", nil, m.SolveSecondsSum)
	p.sample("gridd_solver_duration_seconds_count", nil, float64(m.Cycles))
	p.family("gridd_last_solver_duration_seconds", "gauge", "Wall time of the last optimiser solve.")
	p.sample("gridd_last_solver_duration_seconds", nil, m.LastSolveSeconds)
	p.family("gridd_solver_runs_total", "counter", "Optimiser runs by solver status.")
	for _, k := range sortedMapKeys(m.SolverStatusCount) {
		p.sample("gridd_solver_runs_total", map[string]string{"status": k}, float64(m.SolverStatusCount[k]))
	}
	p.family("gridd_poll_errors_total", "counter", "Device polls that got no answer.")
	p.sample("gridd_poll_errors_total", nil, float64(m.PollErrors))
	p.family("gridd_stale_devices", "gauge", "Devices that did not answer in the last cycle.")
	p.sample("gridd_stale_devices", nil, float64(m.StaleDevices))
	p.family("gridd_cycle_errors_total", "counter", "Cycles that recorded an error.")
	p.sample("gridd_cycle_errors_total", nil, float64(m.CycleErrors))
	p.family("gridd_safety_clamps_total", "counter", "Setpoints clamped by the safety envelope.")
	p.sample("gridd_safety_clamps_total", nil, float64(m.Clamps))
	p.family("gridd_setpoint_writes_total", "counter", "Setpoint writes by outcome.")
	for _, st := range []storage.WriteStatus{storage.WriteOK, storage.WriteMismatch, storage.WriteFailed} {
		p.sample("gridd_setpoint_writes_total", map[string]string{"status": string(st)}, float64(m.WritesByStatus[st]))
	}
	p.family("gridd_control_latency_seconds", "histogram", "Real-time layer ticks: wall time from the start of the poll to the last read-back.")
	for i, le := range m.ControlLatencyBuckets {
		p.sample("gridd_control_latency_seconds_bucket", map[string]string{"le": strconv.FormatFloat(le, 'g', -1, 64)}, float64(m.ControlLatencyCounts[i]))
	}
	p.sample("gridd_control_latency_seconds_bucket", map[string]string{"le": "+Inf"}, float64(m.ControlTicks))
	p.sample("gridd_control_latency_seconds_sum", nil, m.ControlSecondsSum)
	p.sample("gridd_control_latency_seconds_count", nil, float64(m.ControlTicks))
	p.family("gridd_control_corrections_total", "counter", "Setpoints the real-time layer moved for a limit, the peak target or a battery's energy.")
	p.sample("gridd_control_corrections_total", nil, float64(m.ControlCorrections))
	p.family("gridd_keepalive_writes_total", "counter", "Keep-alive re-writes of devices with a command watchdog.")
	p.sample("gridd_keepalive_writes_total", nil, float64(m.KeepAlives))
	active := 0
	for _, a := range s.svc.Alarms() {
		if a.Active {
			active++
		}
	}
	p.family("gridd_alarms_active", "gauge", "Alarms whose condition lasts.")
	p.sample("gridd_alarms_active", nil, float64(active))
	env := s.svc.Envelope()
	ks := 0.0
	if env.KillSwitch().Engaged {
		ks = 1
	}
	p.family("gridd_kill_switch_engaged", "gauge", "1 while the site kill switch pauses automation.")
	p.sample("gridd_kill_switch_engaged", nil, ks)
	commsStates := []safety.CommsState{safety.CommsOnline, safety.CommsSuspect, safety.CommsLost, safety.CommsNotFollowing}
	comms := map[string]float64{}
	for _, d := range env.Status(s.svc.Clock().Now()) {
		comms[string(d.Comms)]++
	}
	p.family("gridd_devices_comms", "gauge", "Controllable devices by comms state.")
	for _, k := range commsStates {
		p.sample("gridd_devices_comms", map[string]string{"state": string(k)}, comms[string(k)])
	}
	list, err := s.svc.Store().ListSchedules(r.Context(), storage.Epoch, storage.End, "")
	if err != nil {
		storeError(w, err)
		return
	}
	states := map[string]float64{}
	for _, st := range []storage.ScheduleStatus{storage.StatusProposed, storage.StatusApproved, storage.StatusRejected, storage.StatusExpired, storage.StatusSuperseded} {
		states[string(st)] = 0
	}
	for _, sc := range list {
		states[string(sc.Status)]++
	}
	p.family("gridd_schedules", "gauge", "Stored schedules by state.")
	for _, k := range sortedMapKeys(states) {
		p.sample("gridd_schedules", map[string]string{"state": k}, states[k])
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	_, _ = w.Write(p.b.Bytes())
}

func sortedMapKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
