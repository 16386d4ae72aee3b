package ocppsim

import (
	"strings"
	"testing"

	ocpp2 "github.com/lorenzodonini/ocpp-go/ocpp2.0.1"
	"github.com/lorenzodonini/ocpp-go/ocpp2.0.1/provisioning"
	"github.com/lorenzodonini/ocpp-go/ws"
)

// TestNoSendToRetiredClient: a report that still holds a client a reconnect or Stop
// has retired gets an error from call, and the client is not sent to (the library
// panics on a send to a stopped client).
func TestNoSendToRetiredClient(t *testing.T) {
	st := &Station{ID: "CP1"}
	cs := ocpp2.NewChargingStation("CP1", nil, ws.NewClient())
	st.retire(cs)
	err := st.call(cs, provisioning.NewBootNotificationRequest(provisioning.BootReasonPowerUp, "gridd-sim", "gridd"))
	if err == nil || !strings.Contains(err.Error(), "the connection was closed") {
		t.Fatalf("call on a retired client: %v, want the connection closed", err)
	}
}
