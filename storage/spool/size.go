package spool

import (
	"fmt"
	"strconv"
	"strings"
)

// Bounds of a configured spool size (ParseSize).
const (
	MinSizeBytes int64 = 1 << 20 // 1 MiB
	MaxSizeBytes int64 = 1 << 40 // 1 TiB
)

var sizeUnits = []struct {
	suffix string
	mult   int64
}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"B", 1}}

// ParseSize reads a spool size such as "256MiB", "2GiB" or "1048576" (bytes) and checks
// that it lies in [MinSizeBytes, MaxSizeBytes]. Units are binary (KiB, MiB, GiB, TiB)
// and case-sensitive; the number is a whole number.
func ParseSize(s string) (int64, error) {
	num, mult := strings.TrimSpace(s), int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(num, u.suffix) {
			num, mult = strings.TrimSpace(strings.TrimSuffix(num, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("spool size %q: want a whole number of bytes or of KiB, MiB, GiB or TiB, e.g. 256MiB", s)
	}
	if n > MaxSizeBytes/mult || n*mult < MinSizeBytes {
		return 0, fmt.Errorf("spool size %q: want between 1MiB and 1TiB", s)
	}
	return n * mult, nil
}
