package ocpp

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/lorenzodonini/ocpp-go/ocpp1.6/core"
	"github.com/lorenzodonini/ocpp-go/ocpp1.6/remotetrigger"
	"github.com/lorenzodonini/ocpp-go/ocpp1.6/smartcharging"
	"github.com/lorenzodonini/ocpp-go/ocpp1.6/types"
	types201 "github.com/lorenzodonini/ocpp-go/ocpp2.0.1/types"
)

// handler16 answers the OCPP 1.6J Core messages charge points send.
type handler16 struct{ c *CSMS }

// txSeq numbers 1.6 transactions (the central system assigns their ids).
var txSeq atomic.Int64

func (h *handler16) OnAuthorize(string, *core.AuthorizeRequest) (*core.AuthorizeConfirmation, error) {
	return core.NewAuthorizationConfirmation(&types.IdTagInfo{Status: types.AuthorizationStatusAccepted}), nil
}

func (h *handler16) OnBootNotification(id string, _ *core.BootNotificationRequest) (*core.BootNotificationConfirmation, error) {
	defer h.c.booted(id)
	return core.NewBootNotificationConfirmation(types.NewDateTime(h.c.clk.Now()), heartbeatInterval, core.RegistrationStatusAccepted), nil
}

func (h *handler16) OnDataTransfer(string, *core.DataTransferRequest) (*core.DataTransferConfirmation, error) {
	return core.NewDataTransferConfirmation(core.DataTransferStatusUnknownVendorId), nil
}

func (h *handler16) OnHeartbeat(id string, _ *core.HeartbeatRequest) (*core.HeartbeatConfirmation, error) {
	h.c.booted(id)
	return core.NewHeartbeatConfirmation(types.NewDateTime(h.c.clk.Now())), nil
}

func samples16(mvs []types.MeterValue) []sample {
	var out []sample
	for _, mv := range mvs {
		for _, sv := range mv.SampledValue {
			v, err := strconv.ParseFloat(sv.Value, 64)
			if err != nil || v != v {
				continue // signed or garbled value: not a number gridd can use
			}
			out = append(out, sample{measurand: string(sv.Measurand), phase: string(sv.Phase), value: scale(v, string(sv.Unit), 0)})
		}
	}
	return out
}

func (h *handler16) OnMeterValues(id string, r *core.MeterValuesRequest) (*core.MeterValuesConfirmation, error) {
	ss := samples16(r.MeterValue)
	h.c.meterUpdate(id, r.ConnectorId, func(e *evse) { applySamples(e, ss); e.mvSeq++ })
	return core.NewMeterValuesConfirmation(), nil
}

func (h *handler16) OnStatusNotification(id string, r *core.StatusNotificationRequest) (*core.StatusNotificationConfirmation, error) {
	h.c.update(id, r.ConnectorId, func(e *evse) {
		e.status = string(r.Status)
		switch r.Status {
		case core.ChargePointStatusPreparing, core.ChargePointStatusCharging, core.ChargePointStatusSuspendedEV,
			core.ChargePointStatusSuspendedEVSE, core.ChargePointStatusFinishing:
			e.plugged = true
		default:
			e.plugged = false
		}
	})
	return core.NewStatusNotificationConfirmation(), nil
}

func (h *handler16) OnStartTransaction(id string, r *core.StartTransactionRequest) (*core.StartTransactionConfirmation, error) {
	tx := int(txSeq.Add(1))
	h.c.meterUpdate(id, r.ConnectorId, func(e *evse) {
		e.inTx, e.tx16, e.txID = true, tx, strconv.Itoa(tx)
		e.txStartWh, e.txStartOK = float64(r.MeterStart), true
		e.energyWh, e.hasEnergy = float64(r.MeterStart), true
		e.plugged = true
	})
	h.c.log.Info("ocpp: session opened", "station", id, "connector", r.ConnectorId, "transaction", tx)
	return core.NewStartTransactionConfirmation(&types.IdTagInfo{Status: types.AuthorizationStatusAccepted}, tx), nil
}

func (h *handler16) OnStopTransaction(id string, r *core.StopTransactionRequest) (*core.StopTransactionConfirmation, error) {
	st := h.c.station(id)
	if st != nil {
		st.mu.Lock()
		conn := -1
		for k, e := range st.evses {
			if e.inTx && e.tx16 == r.TransactionId {
				conn = k
			}
		}
		st.mu.Unlock()
		if conn >= 0 {
			h.c.meterUpdate(id, conn, func(e *evse) {
				e.energyWh, e.hasEnergy = float64(r.MeterStop), true
				e.inTx, e.txID, e.tx16, e.txStartOK = false, "", 0, false
				e.departure, e.requestWh = time.Time{}, 0
			})
			h.c.log.Info("ocpp: session closed", "station", id, "connector", conn, "transaction", r.TransactionId)
		}
	}
	return core.NewStopTransactionConfirmation(), nil
}

func (c *CSMS) setProfile16(ctx context.Context, st *station, connID int, p profile) error {
	cp := &types.ChargingProfile{
		ChargingProfileId: p.id, StackLevel: p.stackLevel, ChargingProfileKind: types.ChargingProfileKindAbsolute,
		ChargingProfilePurpose: types.ChargingProfilePurposeTxDefaultProfile,
		ChargingSchedule: &types.ChargingSchedule{
			ChargingRateUnit:       types.ChargingRateUnitType(st.cfg.ChargingRateUnit),
			StartSchedule:          types.NewDateTime(c.clk.Now().Truncate(time.Second)),
			ChargingSchedulePeriod: []types.ChargingSchedulePeriod{{StartPeriod: 0, Limit: toUnit(st.cfg, p.limitKW)}},
		},
	}
	if p.purpose == purposeTx {
		cp.ChargingProfilePurpose = types.ChargingProfilePurposeTxProfile
		cp.TransactionId = p.tx16
	}
	if !p.validTo.IsZero() {
		cp.ValidTo = types.NewDateTime(p.validTo)
	}
	resp, err := exchange[smartcharging.SetChargingProfileConfirmation](ctx, c, st, "SetChargingProfile",
		&smartcharging.SetChargingProfileRequest{ConnectorId: connID, ChargingProfile: cp})
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

func (c *CSMS) composite16(ctx context.Context, st *station, connID int) (float64, error) {
	resp, err := exchange[smartcharging.GetCompositeScheduleConfirmation](ctx, c, st, "GetCompositeSchedule",
		&smartcharging.GetCompositeScheduleRequest{ConnectorId: connID, Duration: compositeDurationS, ChargingRateUnit: types.ChargingRateUnitType(st.cfg.ChargingRateUnit)})
	if err != nil {
		return 0, fmt.Errorf("GetCompositeSchedule: %w", err)
	}
	if resp.Status != smartcharging.GetCompositeScheduleStatusAccepted {
		return 0, &RejectedError{Action: "GetCompositeSchedule", Status: string(resp.Status)}
	}
	s := resp.ChargingSchedule
	if s == nil || len(s.ChargingSchedulePeriod) == 0 {
		return 0, errors.New("GetCompositeSchedule: accepted without a schedule")
	}
	if string(s.ChargingRateUnit) != st.cfg.ChargingRateUnit {
		return 0, fmt.Errorf("GetCompositeSchedule: schedule in %q, asked for %q", s.ChargingRateUnit, st.cfg.ChargingRateUnit)
	}
	ps := make([]types201.ChargingSchedulePeriod, len(s.ChargingSchedulePeriod))
	for i, p := range s.ChargingSchedulePeriod {
		ps[i] = types201.ChargingSchedulePeriod{StartPeriod: p.StartPeriod, Limit: p.Limit}
	}
	return firstPeriod(ps)
}

func (c *CSMS) trigger16(ctx context.Context, st *station, connID int) error {
	resp, err := exchange[remotetrigger.TriggerMessageConfirmation](ctx, c, st, "TriggerMessage",
		&remotetrigger.TriggerMessageRequest{RequestedMessage: core.MeterValuesFeatureName, ConnectorId: &connID})
	if err != nil {
		return fmt.Errorf("TriggerMessage: %w", err)
	}
	if resp.Status != remotetrigger.TriggerMessageStatusAccepted {
		return &RejectedError{Action: "TriggerMessage", Status: string(resp.Status)}
	}
	return nil
}
