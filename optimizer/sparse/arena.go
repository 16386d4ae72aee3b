package sparse

import (
	"sync"
	"unsafe"
)

// arena hands out the arrays of a symbolic factorisation, carved from slabs
// that later factorisations reuse (an interior-point solve of a dispatch
// cycle builds one of about the same size every few minutes): the memory is
// not allocated, cleared by the garbage collector and faulted in again each
// time. Arrays are zeroed when handed out, as make would.
type arena struct {
	ints slab[int]
	f64  slab[float64]
	upd  slab[update]
	sd   slab[snDesc]
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

func (a *arena) reset() {
	a.ints.reset()
	a.f64.reset()
	a.upd.reset()
	a.sd.reset()
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
