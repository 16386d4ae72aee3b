package forecast

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// EVSession is one charging session at one charger.
type EVSession struct {
	ChargerID string
	PlugIn    time.Time
	PlugOut   time.Time
	EnergyKWh float64
}

// EVProfile is what session history says to expect at one charger, for a
// session whose user gave no departure time. Hours are local hours (in the
// location passed to EVProfiles).
type EVProfile struct {
	ChargerID string
	Sessions  int
	Days      int // calendar days spanned by the history (first to last plug-in)
	// ArrivalsPerDay[h] is the expected number of plug-ins starting in local hour
	// h on one day (sessions in that hour / Days).
	ArrivalsPerDay [24]float64
	// MeanDwell and MeanEnergyKWh over all sessions.
	MeanDwell     time.Duration
	MeanEnergyKWh float64
	// DwellByArrivalHour and EnergyByArrivalHour are the medians over sessions
	// that plugged in during that local hour (falling back to the overall median
	// when the hour has fewer than 3 sessions).
	DwellByArrivalHour  [24]time.Duration
	EnergyByArrivalHour [24]float64
}

// EVProfiles groups sessions by ChargerID and returns one profile per charger,
// sorted by ChargerID. A session with an empty ChargerID, a zero time, a
// plug-out before its plug-in (equal is a zero-length session, kept), or a negative or non-finite energy is an error naming its index.
func EVProfiles(sessions []EVSession, loc *time.Location) ([]EVProfile, error) {
	if loc == nil {
		loc = time.UTC
	}
	by := map[string][]EVSession{}
	for i, s := range sessions {
		switch {
		case s.PlugIn.IsZero() || s.PlugOut.IsZero():
			return nil, fmt.Errorf("ev sessions[%d] (charger %q): zero plug-in or plug-out time", i, s.ChargerID)
		case s.ChargerID == "":
			return nil, fmt.Errorf("ev sessions[%d]: empty ChargerID", i)
		case s.PlugOut.Before(s.PlugIn):
			return nil, fmt.Errorf("ev sessions[%d] (charger %q): plug-out %s is before plug-in %s",
				i, s.ChargerID, s.PlugOut.Format(time.RFC3339), s.PlugIn.Format(time.RFC3339))
		case math.IsNaN(s.EnergyKWh) || math.IsInf(s.EnergyKWh, 0) || s.EnergyKWh < 0:
			return nil, fmt.Errorf("ev sessions[%d] (charger %q): EnergyKWh must be finite and >= 0, got %g", i, s.ChargerID, s.EnergyKWh)
		}
		by[s.ChargerID] = append(by[s.ChargerID], s)
	}
	ids := make([]string, 0, len(by))
	for id := range by {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	out := make([]EVProfile, 0, len(ids))
	for _, id := range ids {
		ss := by[id]
		sort.Slice(ss, func(i, j int) bool { return ss[i].PlugIn.Before(ss[j].PlugIn) })
		p := EVProfile{ChargerID: id, Sessions: len(ss)}
		y0, m0, d0 := ss[0].PlugIn.In(loc).Date()
		y1, m1, d1 := ss[len(ss)-1].PlugIn.In(loc).Date()
		first := time.Date(y0, m0, d0, 12, 0, 0, 0, time.UTC)
		last := time.Date(y1, m1, d1, 12, 0, 0, 0, time.UTC)
		p.Days = int(last.Sub(first)/Day) + 1
		var dwell []float64
		var energy []float64
		var hd [24][]float64
		var he [24][]float64
		var dsum, esum float64
		for _, s := range ss {
			h := s.PlugIn.In(loc).Hour()
			p.ArrivalsPerDay[h]++
			dw := s.PlugOut.Sub(s.PlugIn).Seconds()
			dwell = append(dwell, dw)
			energy = append(energy, s.EnergyKWh)
			hd[h] = append(hd[h], dw)
			he[h] = append(he[h], s.EnergyKWh)
			dsum += dw
			esum += s.EnergyKWh
		}
		for h := range p.ArrivalsPerDay {
			p.ArrivalsPerDay[h] /= float64(p.Days)
		}
		p.MeanDwell = time.Duration(dsum / float64(len(ss)) * float64(time.Second))
		p.MeanEnergyKWh = esum / float64(len(ss))
		mdw, men := median(dwell), median(energy)
		for h := 0; h < 24; h++ {
			dw, en := mdw, men
			if len(hd[h]) >= 3 {
				dw, en = median(hd[h]), median(he[h])
			}
			p.DwellByArrivalHour[h] = time.Duration(dw * float64(time.Second))
			p.EnergyByArrivalHour[h] = en
		}
		out = append(out, p)
	}
	return out, nil
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return quantileSorted(s, 0.5)
}

// ReadEVSessionsCSV reads sessions from CSV with a header row naming the charger,
// plug-in, plug-out (RFC 3339) and energy (kWh) columns. Errors name the line.
func ReadEVSessionsCSV(r io.Reader, chargerCol, plugInCol, plugOutCol, energyCol string) ([]EVSession, error) {
	cr := csv.NewReader(r)
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("read ev sessions: empty input, want a header row")
	}
	if err != nil {
		return nil, fmt.Errorf("read ev sessions: header: %w", err)
	}
	idx := map[string]int{}
	for i, h := range header {
		idx[strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))] = i
	}
	var cols [4]int
	for j, c := range []string{chargerCol, plugInCol, plugOutCol, energyCol} {
		i, ok := idx[c]
		if !ok {
			return nil, fmt.Errorf("read ev sessions: header: no column %q", c)
		}
		cols[j] = i
	}
	var out []EVSession
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read ev sessions: %w", err)
		}
		line, _ := cr.FieldPos(0)
		var s EVSession
		s.ChargerID = strings.TrimSpace(rec[cols[0]])
		for j, dst := range []*time.Time{&s.PlugIn, &s.PlugOut} {
			v := strings.TrimSpace(rec[cols[1+j]])
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return nil, fmt.Errorf("read ev sessions: line %d column %q: %q is not RFC 3339", line, header[cols[1+j]], v)
			}
			*dst = t.UTC()
		}
		v := strings.TrimSpace(rec[cols[3]])
		e, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(e) || math.IsInf(e, 0) {
			return nil, fmt.Errorf("read ev sessions: line %d column %q: %q is not a finite number", line, energyCol, v)
		}
		s.EnergyKWh = e
		out = append(out, s)
	}
}

// Expect returns the expected plug-out time and energy of a session that
// plugged in at plugIn without a departure time: the medians of this charger's
// sessions that arrived in the same local hour (loc as given to EVProfiles).
func (p EVProfile) Expect(plugIn time.Time, loc *time.Location) (plugOut time.Time, energyKWh float64) {
	if loc == nil {
		loc = time.UTC
	}
	h := plugIn.In(loc).Hour()
	return plugIn.Add(p.DwellByArrivalHour[h]), p.EnergyByArrivalHour[h]
}

// ExpectedArrivals returns the expected number of plug-ins in each of steps
// intervals of length step from start: ArrivalsPerDay of each local hour spread
// evenly over that hour. Errors name a bad step or steps.
func (p EVProfile) ExpectedArrivals(start time.Time, step time.Duration, steps int, loc *time.Location) ([]float64, error) {
	if step <= 0 || steps <= 0 || steps > MaxSteps || step > MaxHorizon/time.Duration(steps) {
		return nil, fmt.Errorf("ev arrivals %q: want step > 0 and 0 < steps <= %d within %v, got step %v, steps %d",
			p.ChargerID, MaxSteps, MaxHorizon, step, steps)
	}
	if loc == nil {
		loc = time.UTC
	}
	out := make([]float64, steps)
	for k := range out {
		a := start.Add(time.Duration(k) * step)
		b := a.Add(step)
		for t := a; t.Before(b); {
			next := t.Truncate(time.Hour).Add(time.Hour)
			if b.Before(next) {
				next = b
			}
			out[k] += p.ArrivalsPerDay[t.In(loc).Hour()] * next.Sub(t).Hours()
			t = next
		}
	}
	return out, nil
}
