// Package slab owns the reusable memory of the solver's packages (ipm's work
// vectors, sparse's symbolic factorisation): slices carved from chunks that
// later solves reuse, zeroed when handed out as make would.
package slab

import "unsafe"

// Slab carves slices from chunks kept for reuse: a request that does not fit
// in the chunk in use goes to the next one, or to a new chunk of at least
// MinChunkBytes (a larger request gets its own chunk, with an eighth more
// room for a slightly larger model next time). Reset makes every chunk
// available again, so memory beyond what one solve needs is not held. The
// zero value is ready to use; a Slab is used by one goroutine at a time.
type Slab[T any] struct {
	chunks [][]T
	cur    int // chunk in use
	off    int // next free element in it
}

// MinChunkBytes is the size of the smallest chunk a Slab allocates.
const MinChunkBytes = 1 << 18

// Take returns n zeroed elements.
func (s *Slab[T]) Take(n int) []T {
	for s.cur < len(s.chunks) {
		if c := s.chunks[s.cur]; s.off+n <= len(c) {
			v := c[s.off : s.off+n : s.off+n]
			s.off += n
			clear(v)
			return v
		}
		s.cur++
		s.off = 0
	}
	var zero T
	size := max(MinChunkBytes/int(max(unsafe.Sizeof(zero), 1)), 1)
	if n > size {
		size = n + n/8
	}
	c := make([]T, size)
	s.chunks = append(s.chunks, c)
	s.cur, s.off = len(s.chunks)-1, n
	return c[:n:n]
}

// Reset makes every chunk available again; slices taken before must no
// longer be used.
func (s *Slab[T]) Reset() { s.cur, s.off = 0, 0 }
