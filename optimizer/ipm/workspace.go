package ipm

import (
	"sync"
	"unsafe"
)

// workspace hands out the vectors of one solve, carved from slabs that are
// reused by later solves (a dispatch cycle solves a model of about the same
// size every few minutes): the memory is not allocated, cleared by the garbage
// collector and faulted in again each time, and it stays in cache. Every
// vector is zeroed when handed out, as make would, so a solve computes the
// same bits either way. Nothing handed out may outlive the solve: the
// solution's vectors are allocated apart (postsolve).
//
// A workspace is used by one goroutine at a time; a solve takes two, one for
// the iterate and one for the normal equations set up beside it.
type workspace struct {
	f  slab[float64]
	i  slab[int]
	i4 slab[int32]
	// Lists grown by append (newNormalEq), kept for the next solve.
	adj []int
	pos []int32
}

// slab carves slices from chunks kept for reuse: a request that does not fit
// in the chunk in use goes to the next one, or to a new chunk of at least
// minChunkBytes (a larger request gets its own chunk, with an eighth more
// room for a slightly larger model next time). reset makes every chunk
// available again, so memory beyond what one solve needs is not held.
type slab[T any] struct {
	chunks [][]T
	cur    int // chunk in use
	off    int // next free element in it
}

// minChunkBytes is the size of the smallest chunk a slab allocates.
const minChunkBytes = 1 << 18

// take returns n zeroed elements.
func (s *slab[T]) take(n int) []T {
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
	size := max(minChunkBytes/int(max(unsafe.Sizeof(zero), 1)), 1)
	if n > size {
		size = n + n/8
	}
	c := make([]T, size)
	s.chunks = append(s.chunks, c)
	s.cur, s.off = len(s.chunks)-1, n
	return c[:n:n]
}

func (s *slab[T]) reset() { s.cur, s.off = 0, 0 }

func (w *workspace) reset() {
	w.f.reset()
	w.i.reset()
	w.i4.reset()
}

// workspaces holds the pairs of workspaces of finished solves.
var workspaces = sync.Pool{New: func() any { return new([2]workspace) }}

func getWorkspaces() *[2]workspace { return workspaces.Get().(*[2]workspace) }

func putWorkspaces(w *[2]workspace) {
	w[0].reset()
	w[1].reset()
	workspaces.Put(w)
}
