package iec104

import "github.com/gridd/gridd/iec104/apdu"

// The station speaks the APCI/ASDU subset of package apdu (shared with the field
// driver fieldbus/iec104 and the simulator's RTUs); these names keep its code short.
type (
	APDU   = apdu.APDU
	ASDU   = apdu.ASDU
	Object = apdu.Object
)

// Type identifications and causes the station uses.
const (
	MSpNa1          = apdu.MSpNa1
	MMeNc1          = apdu.MMeNc1
	MSpTb1          = apdu.MSpTb1
	MMeTf1          = apdu.MMeTf1
	CScNa1          = apdu.CScNa1
	CSeNc1          = apdu.CSeNc1
	CIcNa1          = apdu.CIcNa1
	CCsNa1          = apdu.CCsNa1
	CotSpontaneous  = apdu.CotSpontaneous
	CotAct          = apdu.CotAct
	CotActCon       = apdu.CotActCon
	CotDeact        = apdu.CotDeact
	CotDeactCon     = apdu.CotDeactCon
	CotActTerm      = apdu.CotActTerm
	CotInrogen      = apdu.CotInrogen
	CotUnknownType  = apdu.CotUnknownType
	CotUnknownCause = apdu.CotUnknownCause
	CotUnknownCA    = apdu.CotUnknownCA
	CotUnknownIOA   = apdu.CotUnknownIOA

	qdsInvalid = apdu.QDSInvalid
)

// ErrFrame is returned for a byte sequence that is not a valid APDU.
var ErrFrame = apdu.ErrFrame

var (
	maxObjects = apdu.MaxObjects
)
