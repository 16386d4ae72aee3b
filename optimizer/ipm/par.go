package ipm

import (
	"runtime"
	"sync"

	"github.com/gridd/gridd/optimizer/sparse"
)

// parMin is the smallest vector length split over goroutines.
const parMin = 32768

// forRange calls f on contiguous ranges covering [0, n): one range when n
// is small, else one per GOMAXPROCS, concurrently. f must only write
// outputs indexed inside its range (and its own partial results).
func forRange(n int, f func(part, lo, hi int)) {
	w := runtime.GOMAXPROCS(0)
	if n < parMin || w < 2 {
		f(0, 0, n)
		return
	}
	var wg sync.WaitGroup
	for k := 0; k < w; k++ {
		lo, hi := n*k/w, n*(k+1)/w
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(k, lo, hi)
		}()
	}
	wg.Wait()
}

// numParts is the number of ranges forRange uses for n.
func numParts(n int) int {
	if w := runtime.GOMAXPROCS(0); n >= parMin && w >= 2 {
		return w
	}
	return 1
}

// mulTrans sets y = Aᵀ·x, columns split over goroutines.
func mulTrans(a *sparse.CSC, y, x []float64) {
	forRange(a.Cols, func(_, lo, hi int) {
		cp, ri, v := a.ColPtr, a.RowIdx, a.Val
		for j := lo; j < hi; j++ {
			s := 0.0
			for p := cp[j]; p < cp[j+1]; p++ {
				s += v[p] * x[ri[p]]
			}
			y[j] = s
		}
	})
}
