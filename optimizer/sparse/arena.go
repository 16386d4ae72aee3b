package sparse

import (
	"sync"

	"github.com/gridd/gridd/optimizer/internal/slab"
)

// arena hands out the arrays of a symbolic factorisation, carved from slabs
// that later factorisations reuse (an interior-point solve of a dispatch
// cycle builds one of about the same size every few minutes): the memory is
// not allocated, cleared by the garbage collector and faulted in again each
// time. Arrays are zeroed when handed out, as make would.
type arena struct {
	ints slab.Slab[int]
	f64  slab.Slab[float64]
	upd  slab.Slab[update]
	sd   slab.Slab[snDesc]
}

func (a *arena) reset() {
	a.ints.Reset()
	a.f64.Reset()
	a.upd.Reset()
	a.sd.Reset()
}

var arenas = sync.Pool{New: func() any { return new(arena) }}

func getArena() *arena { return arenas.Get().(*arena) }

func putArena(a *arena) {
	a.reset()
	arenas.Put(a)
}

// Release gives the factorisation's memory back for reuse by later
// factorisations. The Cholesky must not be used afterwards. Calling it is
// optional (without it the memory is collected as usual) and it may be
// called more than once.
func (c *Cholesky) Release() {
	if c.ar != nil {
		c.sn = nil
		putArena(c.ar)
		c.ar = nil
	}
}
