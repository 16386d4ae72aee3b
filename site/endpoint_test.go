package site_test

// The site tests check endpoints the way gridd does: through the fieldbus driver
// registry, with the Modbus driver registered.
import _ "github.com/gridd/gridd/fieldbus/modbus"
