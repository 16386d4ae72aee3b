package storage

import (
	"encoding/json"
	"fmt"
)

// EncodeCostBreakdown returns the JSON text backends store for a schedule's CostBreakdown,
// or "" (stored as NULL) when it is empty.
func EncodeCostBreakdown(m map[string]float64) (string, error) {
	if len(m) == 0 {
		return "", nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("encode CostBreakdown: %w", err)
	}
	return string(b), nil
}

// DecodeCostBreakdown parses a stored CostBreakdown; nil (NULL) and an empty object read back as nil.
func DecodeCostBreakdown(b []byte) (map[string]float64, error) {
	if b == nil {
		return nil, nil
	}
	var m map[string]float64
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("decode cost_breakdown: %w", err)
	}
	if len(m) == 0 {
		return nil, nil
	}
	return m, nil
}

// NilIfEmpty returns b, or nil when it is empty: an empty Plan is stored as NULL and reads back as nil.
func NilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}
