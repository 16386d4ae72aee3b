package api

import (
	"encoding/json"
	"time"

	"github.com/gridd/gridd/dispatch"
	"github.com/gridd/gridd/dispatch/audit"
	"github.com/gridd/gridd/safety"
	"github.com/gridd/gridd/site"
)

// Request bodies. Each is decoded strictly (decodeBody), its required fields checked
// (requireFields), and its schema in the OpenAPI document derived from it
// (requestSchema): the tags are described in schema.go.

type loginRequest struct {
	User     string `json:"user" api:"required"`
	Password string `json:"password" api:"required"`
}

type decisionRequest struct {
	User   string `json:"user,omitempty" doc:"the authenticated user's name, if given"`
	Reason string `json:"reason" api:"required" maxLength:"1000"`
}

type pinRequest struct {
	DeviceID string   `json:"device_id" api:"required"`
	PowerKW  *float64 `json:"power_kw" api:"required" doc:"kW, positive = charging"`
	From     *apiTime `json:"from"`
	Until    *apiTime `json:"until" api:"required"`
	Reason   string   `json:"reason" api:"required" maxLength:"1000"`
}

type limitRequest struct {
	ImportKW      *float64  `json:"import_kw"`
	ExportKW      *float64  `json:"export_kw"`
	ImportStepsKW []float64 `json:"import_steps_kw" maxItems:"2016"`
	ExportStepsKW []float64 `json:"export_steps_kw" maxItems:"2016"`
	From          *apiTime  `json:"from"`
	Until         *apiTime  `json:"until" api:"required"`
	Reason        string    `json:"reason" api:"required" maxLength:"1000"`
}

type weatherRequest struct {
	Points []weatherPointRequest `json:"points" api:"required" maxItems:"600"`
}

type weatherPointRequest struct {
	Time         *apiTime `json:"time" api:"required"`
	TemperatureC *float64 `json:"temperature_c"`
	GHIWm2       *float64 `json:"ghi_wm2"`
}

type pricesRequest struct {
	Points []pricePointRequest `json:"points" api:"required" maxItems:"19200"`
}

type pricePointRequest struct {
	Time         *apiTime `json:"time" api:"required"`
	ImportPerKWh *float64 `json:"import_price_per_kwh" api:"required" doc:"per kWh"`
	ExportPerKWh *float64 `json:"export_price_per_kwh"`
}

type overrideRequest struct {
	DeviceID string   `json:"device_id" api:"required"`
	ValueKW  *float64 `json:"value_kw" api:"required"`
	Until    *apiTime `json:"until" api:"required"`
	Reason   string   `json:"reason" api:"required" maxLength:"1000"`
}

type ackRequest struct {
	Note string `json:"note,omitempty" maxLength:"1000"`
}

type sessionRequest struct {
	DeviceID  string   `json:"device_id" api:"required"`
	Arrival   *apiTime `json:"arrival" api:"required"`
	Departure *apiTime `json:"departure" api:"required"`
	EnergyKWh *float64 `json:"energy_kwh" api:"required" doc:"kWh still needed"`
}

// Responses: what the handlers encode, and what the OpenAPI document describes
// (responseSchema).

type statusJSON struct {
	Status string `json:"status"`
}

type acceptedJSON struct {
	Status string `json:"status"`
	Points int    `json:"points"`
}

type meResponse struct {
	Name     string   `json:"name"`
	Role     Role     `json:"role"`
	Operator string   `json:"operator"`
	Chargers []string `json:"chargers"`
}

type siteResponse struct {
	Name             string      `json:"name"`
	Timezone         string      `json:"timezone"`
	Cycle            string      `json:"cycle"`
	StepMinutes      int         `json:"step_minutes"`
	Steps            int         `json:"steps"`
	Currency         string      `json:"currency"`
	PriceSource      string      `json:"price_source"`
	Grid             site.Grid   `json:"grid"`
	Nodes            []site.Node `json:"nodes"`
	AutoApprove      bool        `json:"auto_approve"`
	Now              time.Time   `json:"now"`
	ApprovalDeadline string      `json:"approval_deadline"`
	SafeState        string      `json:"safe_state"`
}

type forecastPointJSON struct {
	Time time.Time `json:"time"`
	P10  float64   `json:"p10"`
	P50  float64   `json:"p50"`
	P90  float64   `json:"p90"`
}

type forecastJSON struct {
	Series   string              `json:"series"`
	Method   string              `json:"method,omitempty"`
	IssuedAt time.Time           `json:"issued_at,omitempty"`
	Points   []forecastPointJSON `json:"points"`
}

type decisionResponse struct {
	ID         int64          `json:"id"`
	Status     string         `json:"status"`
	Writes     []writeJSONRow `json:"writes,omitempty"`
	WriteError string         `json:"write_error,omitempty"`
}

type cycleJSON struct {
	ID           int64     `json:"id"`
	Started      time.Time `json:"started"`
	TotalMS      float64   `json:"total_ms"`
	PollMS       float64   `json:"poll_ms"`
	SolveMS      float64   `json:"solve_ms"`
	Devices      int       `json:"devices"`
	StaleDevices int       `json:"stale_devices"`
	SolverStatus string    `json:"solver_status"`
	ScheduleID   int64     `json:"schedule_id"`
	Error        string    `json:"error,omitempty"`
}

type auditJSON struct {
	ID      int64           `json:"id"`
	Time    time.Time       `json:"time"`
	Actor   string          `json:"actor"`
	Action  string          `json:"action"`
	Subject string          `json:"subject"`
	Detail  string          `json:"detail"`
	Data    json.RawMessage `json:"data,omitempty"`
	Hash    string          `json:"hash,omitempty"`
}

type verifyJSON struct {
	OK     bool          `json:"ok"`
	Report *audit.Report `json:"report"`
}

type safetyJSON struct {
	KillSwitch safety.KillSwitch     `json:"kill_switch"`
	Overrides  []safety.Override     `json:"overrides"`
	Devices    []safety.DeviceStatus `json:"devices"`
}

type resumeJSON struct {
	KillSwitch safety.KillSwitch `json:"kill_switch"`
	Writes     []writeJSONRow    `json:"writes"`
	WriteError string            `json:"write_error,omitempty"`
}

type overrideJSON struct {
	Override   safety.Override `json:"override"`
	Writes     []writeJSONRow  `json:"writes"`
	WriteError string          `json:"write_error,omitempty"`
}

type alarmsJSON struct {
	Alarms []dispatch.Alarm `json:"alarms"`
}

type limitsJSON struct {
	Limits []dispatch.ExternalLimit `json:"limits"`
}

type limitJSON struct {
	Limit      dispatch.ExternalLimit `json:"limit"`
	Writes     []writeJSONRow         `json:"writes,omitempty"`
	WriteError string                 `json:"write_error,omitempty"`
}

type controlJSON struct {
	Enabled            bool    `json:"enabled"`
	IntervalSeconds    float64 `json:"interval_seconds"`
	DeadbandKW         float64 `json:"deadband_kw"`
	At                 string  `json:"at"`
	PeakTargetKW       float64 `json:"peak_target_kw"`
	Ticks              int64   `json:"ticks"`
	LastLatencySeconds float64 `json:"last_latency_seconds"`
	Corrections        int64   `json:"corrections"`
	KeepAlives         int64   `json:"keep_alives"`
	ScheduleID         int64   `json:"schedule_id,omitempty"`
}
