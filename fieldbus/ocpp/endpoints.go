package ocpp

import (
	"github.com/lorenzodonini/ocpp-go/ocpp1.6/certificates"
	"github.com/lorenzodonini/ocpp-go/ocpp1.6/core"
	"github.com/lorenzodonini/ocpp-go/ocpp1.6/extendedtriggermessage"
	"github.com/lorenzodonini/ocpp-go/ocpp1.6/firmware"
	"github.com/lorenzodonini/ocpp-go/ocpp1.6/localauth"
	"github.com/lorenzodonini/ocpp-go/ocpp1.6/logging"
	"github.com/lorenzodonini/ocpp-go/ocpp1.6/remotetrigger"
	"github.com/lorenzodonini/ocpp-go/ocpp1.6/reservation"
	"github.com/lorenzodonini/ocpp-go/ocpp1.6/securefirmware"
	"github.com/lorenzodonini/ocpp-go/ocpp1.6/security"
	sc16 "github.com/lorenzodonini/ocpp-go/ocpp1.6/smartcharging"
	"github.com/lorenzodonini/ocpp-go/ocpp2.0.1/authorization"
	"github.com/lorenzodonini/ocpp-go/ocpp2.0.1/availability"
	"github.com/lorenzodonini/ocpp-go/ocpp2.0.1/data"
	"github.com/lorenzodonini/ocpp-go/ocpp2.0.1/diagnostics"
	"github.com/lorenzodonini/ocpp-go/ocpp2.0.1/display"
	fw2 "github.com/lorenzodonini/ocpp-go/ocpp2.0.1/firmware"
	"github.com/lorenzodonini/ocpp-go/ocpp2.0.1/iso15118"
	la2 "github.com/lorenzodonini/ocpp-go/ocpp2.0.1/localauth"
	"github.com/lorenzodonini/ocpp-go/ocpp2.0.1/meter"
	"github.com/lorenzodonini/ocpp-go/ocpp2.0.1/provisioning"
	"github.com/lorenzodonini/ocpp-go/ocpp2.0.1/remotecontrol"
	res2 "github.com/lorenzodonini/ocpp-go/ocpp2.0.1/reservation"
	sec2 "github.com/lorenzodonini/ocpp-go/ocpp2.0.1/security"
	"github.com/lorenzodonini/ocpp-go/ocpp2.0.1/smartcharging"
	"github.com/lorenzodonini/ocpp-go/ocpp2.0.1/tariffcost"
	"github.com/lorenzodonini/ocpp-go/ocpp2.0.1/transactions"
	"github.com/lorenzodonini/ocpp-go/ocppj"
	"github.com/lorenzodonini/ocpp-go/ws"
)

// endpoints builds the library's OCPP-J endpoints with every profile of each
// version (as its own constructors do), kept so the frame layer can tell an action
// the protocol does not have from one gridd does not handle.
func endpoints(f201, f16 ws.WsServer) (*ocppj.Server, *ocppj.Server) {
	ep2 := ocppj.NewServer(f201, nil, nil,
		authorization.Profile, availability.Profile, data.Profile, diagnostics.Profile, display.Profile,
		fw2.Profile, iso15118.Profile, la2.Profile, meter.Profile, provisioning.Profile, remotecontrol.Profile,
		res2.Profile, sec2.Profile, smartcharging.Profile, tariffcost.Profile, transactions.Profile)
	ep16 := ocppj.NewServer(f16, nil, nil,
		core.Profile, localauth.Profile, firmware.Profile, reservation.Profile, remotetrigger.Profile,
		sc16.Profile, logging.Profile, security.Profile, extendedtriggermessage.Profile, certificates.Profile,
		securefirmware.Profile)
	return ep2, ep16
}
