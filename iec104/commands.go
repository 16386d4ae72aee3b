package iec104

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/gridd/gridd/dispatch"
	"github.com/gridd/gridd/site"
	"github.com/gridd/gridd/storage"
)

// commandAudit is the data of an iec104 audit event.
type commandAudit struct {
	Master string `json:"master"`
	Type   byte   `json:"type_id"`
	Cause  byte   `json:"cause"`
	CA     uint16 `json:"common_address"`
	IOA    uint32 `json:"ioa,omitempty"`
	Value  string `json:"value,omitempty"`
	Select bool   `json:"select,omitempty"`
	Result string `json:"result"`
}

// reply sends a copy of the command with another cause (and P/N bit).
func (s *Server) reply(c *conn, a *ASDU, cause byte, negative bool) {
	r := *a
	r.Cause, r.Negative = cause, negative
	r.CA = a.CA
	c.send(r.Encode())
}

// refuse answers a command negatively with cause and audits why.
func (s *Server) refuseCmd(ctx context.Context, c *conn, a *ASDU, cause byte, why string) {
	d := commandAudit{Master: c.host, Type: a.Type, Cause: a.Cause, CA: a.CA, Result: "refused: " + why}
	subject := fmt.Sprintf("type %d", a.Type)
	if len(a.Objects) > 0 {
		d.IOA, d.Value = a.Objects[0].IOA, fmt.Sprint(a.Objects[0].Float)
		subject = fmt.Sprintf("ioa %d", d.IOA)
	}
	s.log.Warn("iec104 command refused", "master", c.host, "type", a.Type, "why", why)
	s.audit(ctx, c.host, "iec104.refused", subject, fmt.Sprintf("%s: type %d cause %d common address %d refused: %s", c.host, a.Type, a.Cause, a.CA, why), d)
	s.reply(c, a, cause, true)
}

// handle answers one ASDU from a master.
func (s *Server) handle(ctx context.Context, c *conn, a *ASDU) {
	broadcastOK := a.Type == CIcNa1 || a.Type == CCsNa1
	switch a.Type {
	case CIcNa1, CCsNa1, CSeNc1, CScNa1:
	default:
		s.refuseCmd(ctx, c, a, CotUnknownType, fmt.Sprintf("type %d is not a command this station takes", a.Type))
		return
	}
	if a.CA != s.ca && !(broadcastOK && a.CA == 0xFFFF) {
		s.refuseCmd(ctx, c, a, CotUnknownCA, fmt.Sprintf("common address %d, this station is %d", a.CA, s.ca))
		return
	}
	if a.Cause != CotAct && a.Cause != CotDeact {
		s.refuseCmd(ctx, c, a, CotUnknownCause, fmt.Sprintf("cause %d, want 6 (act) or 8 (deact)", a.Cause))
		return
	}
	if len(a.Objects) != 1 {
		s.refuseCmd(ctx, c, a, CotActCon, fmt.Sprintf("%d objects, a command carries one", len(a.Objects)))
		return
	}
	o := a.Objects[0]
	switch a.Type {
	case CIcNa1:
		s.interrogate(ctx, c, a, o)
	case CCsNa1:
		s.clockSync(ctx, c, a, o)
	case CSeNc1:
		if sp, ok := s.tab.commands[o.IOA]; !ok || sp.point == site.IEC104PauseAutomation {
			s.refuseCmd(ctx, c, a, CotUnknownIOA, fmt.Sprintf("IOA %d takes no set-point (%s)", o.IOA, s.tab.commandList(site.IEC104ImportLimitKW, site.IEC104ExportLimitKW)))
			return
		}
		s.command(ctx, c, a, o)
	case CScNa1:
		if sp, ok := s.tab.commands[o.IOA]; !ok || sp.point != site.IEC104PauseAutomation {
			s.refuseCmd(ctx, c, a, CotUnknownIOA, fmt.Sprintf("IOA %d takes no single command (%s)", o.IOA, s.tab.commandList(site.IEC104PauseAutomation)))
			return
		}
		s.command(ctx, c, a, o)
	}
}

func (s *Server) interrogate(ctx context.Context, c *conn, a *ASDU, o Object) {
	switch {
	case a.Cause != CotAct:
		s.refuseCmd(ctx, c, a, CotDeactCon, "an interrogation cannot be deactivated")
		return
	case o.IOA != 0:
		s.refuseCmd(ctx, c, a, CotUnknownIOA, fmt.Sprintf("IOA %d, an interrogation addresses IOA 0", o.IOA))
		return
	case o.QDS != 20:
		s.refuseCmd(ctx, c, a, CotActCon, fmt.Sprintf("qualifier %d, only station interrogation (20) is served", o.QDS))
		return
	}
	a.CA = s.ca
	s.reply(c, a, CotActCon, false)
	var meas, bins []Object
	for _, p := range s.read(ctx) {
		if p.Binary {
			bins = append(bins, p.object())
		} else {
			meas = append(meas, p.object())
		}
	}
	for _, b := range append(s.chunk(MMeNc1, CotInrogen, meas), s.chunk(MSpNa1, CotInrogen, bins)...) {
		c.send(b)
	}
	s.reply(c, a, CotActTerm, false)
	s.audit(ctx, c.host, "iec104.interrogation", "station", fmt.Sprintf("general interrogation from %s: %d measured values, %d single points", c.host, len(meas), len(bins)), nil)
}

func (s *Server) clockSync(ctx context.Context, c *conn, a *ASDU, o Object) {
	if a.Cause != CotAct || o.IOA != 0 {
		s.refuseCmd(ctx, c, a, CotActCon, fmt.Sprintf("clock sync with cause %d IOA %d, want act and IOA 0", a.Cause, o.IOA))
		return
	}
	if s.cfg.ClockSync != site.IEC104ClockAccept {
		s.refuseCmd(ctx, c, a, CotActCon, "iec104.clock_sync is refuse")
		return
	}
	now := s.ctl.Clock().Now()
	offset := o.Time.Sub(now)
	s.log.Info("iec104 clock sync", "master", c.host, "master_time", o.Time, "offset", offset)
	s.audit(ctx, c.host, "iec104.clock_sync", "station", fmt.Sprintf("clock sync from %s accepted: master time %s, %s from gridd's clock (the host clock is not set)", c.host, o.Time.Format(time.RFC3339Nano), offset), commandAudit{Master: c.host, Type: a.Type, Cause: a.Cause, CA: a.CA, Value: offset.String(), Result: "accepted"})
	s.reply(c, a, CotActCon, false)
}

// check validates a command's value without acting on it.
func (s *Server) check(a *ASDU, o Object) error {
	if a.Type == CScNa1 {
		if !s.cfg.AllowPause {
			return errors.New("iec104.allow_pause is false")
		}
		return nil
	}
	v := float64(o.Float)
	physical, name := s.tab.cfg.Grid.ImportLimitKW, "import"
	if s.tab.commands[o.IOA].point == site.IEC104ExportLimitKW {
		physical, name = s.tab.cfg.Grid.ExportLimitKW, "export"
	}
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return fmt.Errorf("%s limit %v is not a finite number", name, v)
	case v < 0:
		return fmt.Errorf("%s limit %g kW is negative (a limit is a magnitude)", name, v)
	case v > physical:
		return fmt.Errorf("%s limit %g kW is above the site's physical limit %g kW", name, v, physical)
	}
	return nil
}

// command handles C_SE_NC_1 and C_SC_NA_1: direct execute, or select then execute
// (select-before-operate), or deactivation of a select.
func (s *Server) command(ctx context.Context, c *conn, a *ASDU, o Object) {
	isSelect := o.QDS&0x80 != 0
	now := time.Now()
	c.mu.Lock()
	sel, selected := c.selection[o.IOA]
	if selected && now.After(sel.until) {
		delete(c.selection, o.IOA)
		selected = false
	}
	c.mu.Unlock()
	d := commandAudit{Master: c.host, Type: a.Type, Cause: a.Cause, CA: a.CA, IOA: o.IOA, Value: fmt.Sprint(o.Float), Select: isSelect}
	if a.Type == CScNa1 {
		d.Value = fmt.Sprint(o.QDS & 1)
	}
	subject := fmt.Sprintf("ioa %d", o.IOA)
	if a.Cause == CotDeact {
		if !selected {
			s.refuseCmd(ctx, c, a, CotDeactCon, "deactivation without a select in force")
			return
		}
		c.mu.Lock()
		delete(c.selection, o.IOA)
		c.mu.Unlock()
		d.Result = "select cancelled"
		s.audit(ctx, c.host, "iec104.deselect", subject, fmt.Sprintf("%s cancelled its select of IOA %d", c.host, o.IOA), d)
		s.reply(c, a, CotDeactCon, false)
		return
	}
	if err := s.check(a, o); err != nil {
		s.refuseCmd(ctx, c, a, CotActCon, err.Error())
		return
	}
	if isSelect {
		c.mu.Lock()
		c.selection[o.IOA] = selection{typ: a.Type, value: o.Float, qual: o.QDS &^ 0x80, until: now.Add(selectTimeout)}
		c.mu.Unlock()
		d.Result = "selected"
		s.audit(ctx, c.host, "iec104.select", subject, fmt.Sprintf("%s selected IOA %d with %s", c.host, o.IOA, d.Value), d)
		s.reply(c, a, CotActCon, false)
		return
	}
	if selected {
		c.mu.Lock()
		delete(c.selection, o.IOA)
		c.mu.Unlock()
		if sel.typ != a.Type || sel.value != o.Float || sel.qual != o.QDS {
			s.refuseCmd(ctx, c, a, CotActCon, fmt.Sprintf("execute %g differs from the value selected (%g)", o.Float, sel.value))
			return
		}
	}
	var err error
	switch a.Type {
	case CSeNc1:
		err = s.setLimit(ctx, c.host, o.IOA, float64(o.Float))
	case CScNa1:
		if o.QDS&1 == 1 {
			err = s.ctl.Pause(ctx, "iec104:"+c.host, fmt.Sprintf("C_SC_NA_1 IOA %d from %s", o.IOA, c.host))
		} else {
			_, err = s.ctl.Resume(ctx, "iec104:"+c.host, fmt.Sprintf("C_SC_NA_1 IOA %d from %s", o.IOA, c.host))
		}
	}
	var applied *appliedErr
	if err != nil && !errors.As(err, &applied) {
		s.refuseCmd(ctx, c, a, CotActCon, err.Error())
		return
	}
	s.reply(c, a, CotActCon, false)
	s.reply(c, a, CotActTerm, false)
	if err != nil {
		s.log.Warn("iec104 command accepted, writes incomplete", "master", c.host, "ioa", o.IOA, "err", err)
	}
}

// appliedErr is an error after a command took effect (e.g. a write the tick that
// enforces a new limit could not make): the command is still confirmed.
type appliedErr struct{ err error }

func (e *appliedErr) Error() string { return e.err.Error() }
func (e *appliedErr) Unwrap() error { return e.err }

// setLimit puts the import (default IOA 3001) or export (3002) limit in force for
// iec104.limit_hold, replacing the one this station set before (so repeating the
// command refreshes it).
func (s *Server) setLimit(ctx context.Context, host string, ioa uint32, v float64) error {
	s.limitMu.Lock()
	defer s.limitMu.Unlock()
	actor := "iec104:" + host
	l := dispatch.ExternalLimit{Source: dispatch.LimitSourceIEC104, Until: s.ctl.Clock().Now().Add(s.cfg.LimitHold.D), Actor: actor}
	which := s.tab.commands[ioa].point
	if which == site.IEC104ImportLimitKW {
		l.ImportKW, l.Reason = &v, fmt.Sprintf("C_SE_NC_1 IOA %d (site import limit) from %s", ioa, host)
	} else {
		l.ExportKW, l.Reason = &v, fmt.Sprintf("C_SE_NC_1 IOA %d (site export limit) from %s", ioa, host)
	}
	set, _, err := s.ctl.SetLimit(ctx, l)
	if set.ID == 0 {
		if err == nil {
			err = errors.New("limit not set")
		}
		return err
	}
	s.mu.Lock()
	old := s.held[which]
	s.held[which] = set.ID
	s.mu.Unlock()
	if old != 0 {
		if e := s.ctl.EndLimit(ctx, old, actor, fmt.Sprintf("replaced by external limit %d (command repeated)", set.ID)); e != nil && !errors.Is(e, storage.ErrNotFound) {
			s.log.Warn("iec104: end replaced limit", "id", old, "err", e)
		}
	}
	if err != nil {
		return &appliedErr{err}
	}
	return nil
}

// commandList names the IOAs of the given commands, for a refusal's reason.
func (t *table) commandList(names ...string) string {
	var out []string
	for _, n := range names {
		if ioa, ok := t.cmdIOA[n]; ok {
			out = append(out, fmt.Sprintf("%d %s", ioa, n))
		}
	}
	if len(out) == 0 {
		return "none in this station's table"
	}
	return strings.Join(out, ", ")
}
