package main

// The fieldbus drivers gridd speaks. Each registers its endpoint schemes with
// fieldbus.Register when linked in; the Poller, the Writer, `gridd config check`
// (fieldbus.CheckSite) and site validation then find it by the scheme of a device's
// endpoint. A new driver is one line here (see CONTRIBUTING.md, "A new protocol
// driver").
import (
	_ "github.com/gridd/gridd/fieldbus/iec104" // IEC 60870-5-104 RTUs: iec104, iec104+tls
	_ "github.com/gridd/gridd/fieldbus/modbus" // Modbus: host:port, tcp, tls, tcp+tls, rtuovertcp, rtu, ascii
	_ "github.com/gridd/gridd/fieldbus/ocpp"   // OCPP 2.0.1 / 1.6J chargers: ocpp://STATION-ID[/EVSE-ID]
)
