package spool

import (
	"strings"
	"testing"
)

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		err  string
	}{
		{"256MiB", 256 << 20, ""},
		{"2GiB", 2 << 30, ""},
		{"1048576", 1 << 20, ""},
		{" 1024 KiB ", 1 << 20, ""},
		{"1TiB", 1 << 40, ""},
		{"1023KiB", 0, "between"},
		{"2TiB", 0, "between"},
		{"0", 0, "between"},
		{"-5MiB", 0, "whole number"},
		{"1.5GiB", 0, "whole number"},
		{"256mb", 0, "whole number"},
		{"", 0, "whole number"},
		{"9223372036854775807GiB", 0, "between"},
	} {
		got, err := ParseSize(tc.in)
		if tc.err == "" && (err != nil || got != tc.want) {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
		if tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), tc.in)) {
			t.Errorf("ParseSize(%q) error %v, want one naming the value and containing %q", tc.in, err, tc.err)
		}
	}
}

// FuzzParseSize: any input is refused or gives a size in the allowed range.
func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"256MiB", "1TiB", "0", "-1", "1.5GiB", "9223372036854775807GiB", "1048576B"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseSize(s)
		if err == nil && (n < MinSizeBytes || n > MaxSizeBytes) {
			t.Fatalf("ParseSize(%q) = %d outside the bounds", s, n)
		}
	})
}
