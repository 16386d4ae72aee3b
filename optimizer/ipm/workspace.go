package ipm

import (
	"sync"

	"github.com/gridd/gridd/optimizer/internal/slab"
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
	f  slab.Slab[float64]
	i  slab.Slab[int]
	i4 slab.Slab[int32]
	// Lists grown by append (newNormalEq), kept for the next solve.
	adj []int
	pos []int32
}

func (w *workspace) reset() {
	w.f.Reset()
	w.i.Reset()
	w.i4.Reset()
}

// workspaces holds the pairs of workspaces of finished solves.
var workspaces = sync.Pool{New: func() any { return new([2]workspace) }}

func getWorkspaces() *[2]workspace { return workspaces.Get().(*[2]workspace) }

func putWorkspaces(w *[2]workspace) {
	w[0].reset()
	w[1].reset()
	workspaces.Put(w)
}
