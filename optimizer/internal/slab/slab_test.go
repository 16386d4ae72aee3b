package slab

import "testing"

// TestTakeZeroesAndReuses: slices come zeroed, do not overlap, a request
// larger than a chunk gets its own, and after Reset the same memory is
// handed out again, zeroed.
func TestTakeZeroesAndReuses(t *testing.T) {
	var s Slab[float64]
	a, b := s.Take(10), s.Take(5)
	for i := range a {
		a[i] = 1
	}
	if &a[9] == &b[0] || cap(a) != 10 {
		t.Fatalf("slices overlap or grow into each other (cap %d)", cap(a))
	}
	big := s.Take(MinChunkBytes) // 8× a chunk of float64
	if len(big) != MinChunkBytes {
		t.Fatalf("large request: %d elements", len(big))
	}
	s.Reset()
	c := s.Take(10)
	if &c[0] != &a[0] {
		t.Error("Reset did not reuse the first chunk")
	}
	for i, v := range c {
		if v != 0 {
			t.Fatalf("element %d is %v after Reset, want 0", i, v)
		}
	}
}
