package ipm

import "sync"

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

// slab carves slices from one backing array. When it runs out, a larger one
// is allocated (the slices already carved keep the old one); reset makes the
// newest, largest array available again from its start.
type slab[T any] struct {
	buf []T
	off int
}

// take returns n zeroed elements.
func (s *slab[T]) take(n int) []T {
	if s.off+n > len(s.buf) {
		s.buf = make([]T, max(2*len(s.buf), n+len(s.buf), 1024))
		s.off = 0
	}
	v := s.buf[s.off : s.off+n : s.off+n]
	s.off += n
	clear(v)
	return v
}

func (s *slab[T]) reset() { s.off = 0 }

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
