package fieldbus

import (
	"strings"
	"testing"
)

const goodIEC104Profile = `name: rtu
kind: bess
protocol: iec104
points:
  - {name: soc_pct, ioa: 1001, type: M_ME_NC_1, min: 0, max: 100}
  - {name: active_power_kw, ioa: 1002, type: M_ME_NB_1, scale: 0.1}
  - {name: voltage_v, ioa: 1003, type: M_ME_NA_1, scale: 500}
  - {name: setpoint_kw, ioa: 2001, type: M_ME_NC_1, command: C_SE_NC_1, command_ioa: 3001, access: rw, min: -100, max: 100}
`

// A protocol iec104 profile: IOAs and types instead of registers; errors name the
// file, line, field and value.
func TestParseIEC104Profile(t *testing.T) {
	p, err := ParseProfile("rtu.yaml", []byte(goodIEC104Profile))
	if err != nil {
		t.Fatal(err)
	}
	if p.Protocol != ProtocolIEC104 || p.Points[3].IEC104.CommandIOA != 3001 || p.Points[2].Scale != 500.0/32768 || p.Points[1].Type != I16 {
		t.Fatalf("parsed %+v", p.Points)
	}
	// Normalised and scaled values convert both ways.
	if v, err := p.Points[2].IEC104Raw(0.8); err != nil || v < 399.99 || v > 400.01 {
		t.Fatalf("normalised 0.8 at scale 500 = %v, %v", v, err)
	}
	if f, err := p.Points[2].IEC104Value(400); err != nil || f < 0.7999 || f > 0.8001 {
		t.Fatalf("400 V normalised = %v, %v", f, err)
	}
	if _, err := p.Points[1].IEC104Value(1e6); err == nil {
		t.Fatal("1e6 kW fits no scaled value at 0.1")
	}
	if _, err := p.Points[0].IEC104Raw(101); err == nil {
		t.Fatal("SoC 101 % read good")
	}
	for _, c := range []struct{ name, old, new, want string }{
		{"register on iec104", "ioa: 1001,", "ioa: 1001, register: input,", `points[0].register: a protocol iec104 point takes ioa and type, not register`},
		{"missing ioa", "ioa: 1001, ", "", `points[0].ioa: missing`},
		{"ioa too large", "ioa: 1001", "ioa: 16777216", `points[0].ioa: 16777216: must be in 1..16777215`},
		{"duplicate ioa", "ioa: 1002", "ioa: 1001", `points[1].ioa: 1001: already used by points[0] (soc_pct)`},
		{"unknown type", "type: M_ME_NB_1", "type: M_ME_XX_1", `points[1].type: "M_ME_XX_1": unknown IEC 104 monitored type`},
		{"wrong command family", "command: C_SE_NC_1", "command: C_SE_NB_1", `points[3].command: "C_SE_NB_1": the command of a M_ME_NC_1 point is C_SE_NC_1`},
		{"command without ioa", ", command_ioa: 3001", "", `points[3].command_ioa: missing`},
		{"rw without command", "command: C_SE_NC_1, command_ioa: 3001, ", "", `points[3].command: missing: an rw point needs the command`},
		{"command on read-only", "access: rw, ", "", `points[3].access: a point with a command must be access rw`},
		{"limit beyond scaled", "scale: 0.1}", "scale: 0.1, min: 0, max: 5000}", `points[1].max: 5000: not representable as M_ME_NB_1`},
		{"unknown protocol", "protocol: iec104", "protocol: dnp3", `protocol: "dnp3": unknown protocol`},
		{"ioa on modbus", "protocol: iec104\n", "", `points[0].ioa: ioa, command and command_ioa are for protocol iec104 profiles`},
	} {
		t.Run(c.name, func(t *testing.T) {
			src := strings.Replace(goodIEC104Profile, c.old, c.new, 1)
			if src == goodIEC104Profile {
				t.Fatal("case did not change the profile")
			}
			_, err := ParseProfile("rtu.yaml", []byte(src))
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "rtu.yaml:") {
				t.Fatalf("error\n%v\nwant it to contain\n%s", err, c.want)
			}
		})
	}
}
