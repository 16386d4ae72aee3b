package ocpp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/lorenzodonini/ocpp-go/ocpp2.0.1/authorization"
	"github.com/lorenzodonini/ocpp-go/ocpp2.0.1/availability"
	"github.com/lorenzodonini/ocpp-go/ocpp2.0.1/meter"
	"github.com/lorenzodonini/ocpp-go/ocpp2.0.1/provisioning"
	"github.com/lorenzodonini/ocpp-go/ocpp2.0.1/remotecontrol"
	"github.com/lorenzodonini/ocpp-go/ocpp2.0.1/smartcharging"
	"github.com/lorenzodonini/ocpp-go/ocpp2.0.1/transactions"
	"github.com/lorenzodonini/ocpp-go/ocpp2.0.1/types"
)

// handler201 answers the OCPP 2.0.1 messages stations send.
type handler201 struct{ c *CSMS }

// heartbeatInterval is the interval gridd gives stations in BootNotification.
const heartbeatInterval = 60

func (h *handler201) OnBootNotification(id string, _ *provisioning.BootNotificationRequest) (*provisioning.BootNotificationResponse, error) {
	defer h.c.booted(id)
	return provisioning.NewBootNotificationResponse(types.NewDateTime(h.c.clk.Now()), heartbeatInterval, provisioning.RegistrationStatusAccepted), nil
}

func (h *handler201) OnNotifyReport(string, *provisioning.NotifyReportRequest) (*provisioning.NotifyReportResponse, error) {
	return &provisioning.NotifyReportResponse{}, nil
}

func (h *handler201) OnHeartbeat(id string, _ *availability.HeartbeatRequest) (*availability.HeartbeatResponse, error) {
	h.c.booted(id)
	return availability.NewHeartbeatResponse(*types.NewDateTime(h.c.clk.Now())), nil
}

func (h *handler201) OnStatusNotification(id string, r *availability.StatusNotificationRequest) (*availability.StatusNotificationResponse, error) {
	h.c.update(id, r.EvseID, func(e *evse) {
		e.status = string(r.ConnectorStatus)
		e.plugged = r.ConnectorStatus == availability.ConnectorStatusOccupied
	})
	return &availability.StatusNotificationResponse{}, nil
}

func samples201(mvs []types.MeterValue) []sample {
	var out []sample
	for _, mv := range mvs {
		for _, sv := range mv.SampledValue {
			unit, mult := "", 0
			if sv.UnitOfMeasure != nil {
				unit = sv.UnitOfMeasure.Unit
				if sv.UnitOfMeasure.Multiplier != nil {
					mult = *sv.UnitOfMeasure.Multiplier
				}
			}
			out = append(out, sample{measurand: string(sv.Measurand), phase: string(sv.Phase), value: scale(sv.Value, unit, mult)})
		}
	}
	return out
}

func (h *handler201) OnMeterValues(id string, r *meter.MeterValuesRequest) (*meter.MeterValuesResponse, error) {
	ss := samples201(r.MeterValue)
	h.c.meterUpdate(id, r.EvseID, func(e *evse) { applySamples(e, ss); e.mvSeq++ })
	return &meter.MeterValuesResponse{}, nil
}

func (h *handler201) OnTransactionEvent(id string, r *transactions.TransactionEventRequest) (*transactions.TransactionEventResponse, error) {
	evseID := 0
	if r.Evse != nil {
		evseID = r.Evse.ID
	}
	c := h.c
	st := c.station(id)
	if st != nil && evseID == 0 {
		// Later events may omit the EVSE: find the one holding the transaction.
		st.mu.Lock()
		for k, e := range st.evses {
			if e.inTx && e.txID == r.TransactionInfo.TransactionID {
				evseID = k
			}
		}
		st.mu.Unlock()
	}
	ss := samples201(r.MeterValue)
	c.meterUpdate(id, evseID, func(e *evse) {
		switch r.EventType {
		case transactions.TransactionEventStarted, transactions.TransactionEventUpdated:
			if !e.inTx || e.txID != r.TransactionInfo.TransactionID {
				e.inTx, e.txID, e.txStartOK = true, r.TransactionInfo.TransactionID, false
				c.log.Info("ocpp: session opened", "station", id, "evse", evseID, "transaction", e.txID)
			}
			switch r.TransactionInfo.ChargingState {
			case transactions.ChargingStateIdle:
			case "":
			default:
				e.plugged = true
			}
			if r.TriggerReason == transactions.TriggerReasonCablePluggedIn || r.TriggerReason == transactions.TriggerReasonEVDetected {
				e.plugged = true
			}
			applySamples(e, ss)
		case transactions.TransactionEventEnded:
			applySamples(e, ss)
			c.log.Info("ocpp: session closed", "station", id, "evse", evseID, "transaction", r.TransactionInfo.TransactionID)
			e.inTx, e.txID, e.txStartOK = false, "", false
			e.departure, e.requestWh = time.Time{}, 0
			if r.TransactionInfo.StoppedReason == transactions.ReasonEVDisconnected || r.TriggerReason == transactions.TriggerReasonEVCommunicationLost {
				e.plugged = false
			}
		}
	})
	resp := &transactions.TransactionEventResponse{}
	if r.IDToken != nil {
		resp.IDTokenInfo = &types.IdTokenInfo{Status: types.AuthorizationStatusAccepted}
	}
	return resp, nil
}

func (h *handler201) OnAuthorize(string, *authorization.AuthorizeRequest) (*authorization.AuthorizeResponse, error) {
	// gridd steers power, not access: every token is accepted.
	return authorization.NewAuthorizationResponse(types.IdTokenInfo{Status: types.AuthorizationStatusAccepted}), nil
}

func (h *handler201) OnClearedChargingLimit(string, *smartcharging.ClearedChargingLimitRequest) (*smartcharging.ClearedChargingLimitResponse, error) {
	return &smartcharging.ClearedChargingLimitResponse{}, nil
}

func (h *handler201) OnNotifyChargingLimit(string, *smartcharging.NotifyChargingLimitRequest) (*smartcharging.NotifyChargingLimitResponse, error) {
	return &smartcharging.NotifyChargingLimitResponse{}, nil
}

func (h *handler201) OnNotifyEVChargingNeeds(id string, r *smartcharging.NotifyEVChargingNeedsRequest) (*smartcharging.NotifyEVChargingNeedsResponse, error) {
	n := r.ChargingNeeds
	h.c.update(id, r.EvseID, func(e *evse) {
		if n.DepartureTime != nil {
			e.departure = n.DepartureTime.Time
		}
		switch {
		case n.ACChargingParameters != nil:
			e.requestWh = float64(n.ACChargingParameters.EnergyAmount)
		case n.DCChargingParameters != nil && n.DCChargingParameters.EnergyAmount != nil:
			e.requestWh = float64(*n.DCChargingParameters.EnergyAmount)
		}
	})
	return &smartcharging.NotifyEVChargingNeedsResponse{Status: smartcharging.EVChargingNeedsStatusAccepted}, nil
}

func (h *handler201) OnNotifyEVChargingSchedule(string, *smartcharging.NotifyEVChargingScheduleRequest) (*smartcharging.NotifyEVChargingScheduleResponse, error) {
	return &smartcharging.NotifyEVChargingScheduleResponse{Status: types.GenericStatusAccepted}, nil
}

func (h *handler201) OnReportChargingProfiles(string, *smartcharging.ReportChargingProfilesRequest) (*smartcharging.ReportChargingProfilesResponse, error) {
	return &smartcharging.ReportChargingProfilesResponse{}, nil
}

func (c *CSMS) setProfile201(ctx context.Context, st *station, evseID int, p profile) error {
	cp := &types.ChargingProfile{
		ID: p.id, StackLevel: p.stackLevel, ChargingProfileKind: types.ChargingProfileKindAbsolute,
		ChargingProfilePurpose: types.ChargingProfilePurposeTxDefaultProfile,
		ChargingSchedule: []types.ChargingSchedule{{
			ID: p.id, ChargingRateUnit: types.ChargingRateUnitType(st.cfg.ChargingRateUnit),
			StartSchedule:          types.NewDateTime(c.clk.Now().Truncate(time.Second)),
			ChargingSchedulePeriod: []types.ChargingSchedulePeriod{{StartPeriod: 0, Limit: toUnit(st.cfg, p.limitKW)}},
		}},
	}
	if p.purpose == purposeTx {
		cp.ChargingProfilePurpose = types.ChargingProfilePurposeTxProfile
		cp.TransactionID = p.txID
	}
	if !p.validTo.IsZero() {
		cp.ValidTo = types.NewDateTime(p.validTo)
	}
	resp, err := exchange[smartcharging.SetChargingProfileResponse](ctx, c, st, "SetChargingProfile", smartcharging.NewSetChargingProfileRequest(evseID, cp))
	if err != nil {
		return fmt.Errorf("SetChargingProfile: %w", err)
	}
	if resp == nil || resp.Status != smartcharging.ChargingProfileStatusAccepted {
		status := "no answer"
		if resp != nil {
			status = string(resp.Status)
		}
		return &RejectedError{Action: "SetChargingProfile", Status: status}
	}
	return nil
}

// compositeSchedule201 is GetCompositeScheduleResponse as the OCPP 2.0.1 schema
// defines it. The library's type for it (v0.19.0) has the fields of 1.6
// (lorenzodonini/ocpp-go issue 385), so gridd sends this request itself.
type compositeSchedule201 struct {
	Status   string `json:"status"`
	Schedule *struct {
		EvseID                 int                            `json:"evseId"`
		Duration               int                            `json:"duration"`
		ScheduleStart          string                         `json:"scheduleStart"`
		ChargingRateUnit       string                         `json:"chargingRateUnit"`
		ChargingSchedulePeriod []types.ChargingSchedulePeriod `json:"chargingSchedulePeriod"`
		// ChargingSchedule is where stations built on the library's own type put
		// the periods; gridd reads either.
		ChargingSchedule *struct {
			ChargingRateUnit       string                         `json:"chargingRateUnit"`
			ChargingSchedulePeriod []types.ChargingSchedulePeriod `json:"chargingSchedulePeriod"`
		} `json:"chargingSchedule"`
	} `json:"schedule"`
}

// compositeDurationS is the span of the composite schedule gridd asks for.
const compositeDurationS = 60

func (c *CSMS) composite201(ctx context.Context, st *station, evseID int) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.CallTimeout.D)
	defer cancel()
	raw, err := c.srv.call(ctx, st.cfg.ID, "GetCompositeSchedule", map[string]any{
		"duration": compositeDurationS, "evseId": evseID, "chargingRateUnit": st.cfg.ChargingRateUnit})
	if err != nil {
		return 0, fmt.Errorf("GetCompositeSchedule: %w", err)
	}
	var r compositeSchedule201
	if err := json.Unmarshal(raw, &r); err != nil {
		return 0, fmt.Errorf("GetCompositeSchedule: undecodable answer: %w", err)
	}
	if r.Status != "Accepted" {
		return 0, &RejectedError{Action: "GetCompositeSchedule", Status: r.Status}
	}
	if r.Schedule == nil {
		return 0, errors.New("GetCompositeSchedule: accepted without a schedule")
	}
	unit, periods := r.Schedule.ChargingRateUnit, r.Schedule.ChargingSchedulePeriod
	if cs := r.Schedule.ChargingSchedule; len(periods) == 0 && cs != nil {
		unit, periods = cs.ChargingRateUnit, cs.ChargingSchedulePeriod
	}
	if len(periods) == 0 {
		return 0, errors.New("GetCompositeSchedule: accepted without schedule periods")
	}
	if unit != st.cfg.ChargingRateUnit {
		return 0, fmt.Errorf("GetCompositeSchedule: schedule in %q, asked for %q", unit, st.cfg.ChargingRateUnit)
	}
	return firstPeriod(periods)
}

// firstPeriod is the limit in force at the schedule's start (the period starting at
// 0, else the earliest).
func firstPeriod(ps []types.ChargingSchedulePeriod) (float64, error) {
	best := -1
	for i, p := range ps {
		if best < 0 || p.StartPeriod < ps[best].StartPeriod {
			best = i
		}
	}
	v := ps[best].Limit
	if v < 0 || v != v || v > 1e7 {
		return 0, fmt.Errorf("GetCompositeSchedule: implausible limit %v", v)
	}
	return v, nil
}

func (c *CSMS) trigger201(ctx context.Context, st *station, evseID int) error {
	resp, err := exchange[remotecontrol.TriggerMessageResponse](ctx, c, st, "TriggerMessage",
		&remotecontrol.TriggerMessageRequest{RequestedMessage: remotecontrol.MessageTriggerMeterValues, Evse: &types.EVSE{ID: evseID}})
	if err != nil {
		return fmt.Errorf("TriggerMessage: %w", err)
	}
	if resp.Status != remotecontrol.TriggerMessageStatusAccepted {
		return &RejectedError{Action: "TriggerMessage", Status: string(resp.Status)}
	}
	return nil
}
