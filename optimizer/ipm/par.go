package ipm

import (
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/gridd/gridd/optimizer/sparse"
)

// parMin is the smallest vector length split over goroutines.
const parMin = 32768

// forRange calls f on contiguous ranges covering [0, n): one range when n
// is small, else numParts(n) ranges that GOMAXPROCS goroutines claim in
// turn, so a goroutine delayed by a busy machine holds up the others for
// at most one range. f must only write outputs indexed inside its range
// (and its own partial results, indexed by part).
func forRange(n int, f func(part, lo, hi int)) {
	parts := numParts(n)
	if parts == 1 {
		f(0, 0, n)
		return
	}
	claim(parts, true, func(k int) { f(k, n*k/parts, n*(k+1)/parts) })
}

// claim calls f(k) for k in [0, parts): with parallel, GOMAXPROCS
// goroutines (the calling one included) claim the ks in turn; otherwise
// the calling goroutine runs them in order.
func claim(parts int, parallel bool, f func(k int)) {
	var next atomic.Int32
	run := func() {
		for {
			k := int(next.Add(1)) - 1
			if k >= parts {
				return
			}
			f(k)
		}
	}
	w := runtime.GOMAXPROCS(0)
	if !parallel || w < 2 {
		run()
		return
	}
	var wg sync.WaitGroup
	for g := 1; g < w; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			run()
		}()
	}
	run()
	wg.Wait()
}

// partsPerWorker is how many ranges forRange makes per goroutine.
const partsPerWorker = 8

// numParts is the number of ranges forRange uses for n.
func numParts(n int) int {
	if w := runtime.GOMAXPROCS(0); n >= parMin && w >= 2 {
		return w * partsPerWorker
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

// sumChunk is the length of the fixed ranges whose partial results
// sumRange combines; fixed so that a sum does not depend on the number of
// workers.
const sumChunk = 8192

// sumRange returns the sums of f's k results over fixed ranges covering
// [0, n), adding the ranges' partial results in order, so the result is
// the same for any number of workers. f must only write outputs indexed
// inside its range. out receives the k sums; part is scratch space that is
// grown as needed and returned.
func sumRange(n, k int, part []float64, out []float64, f func(lo, hi int, acc []float64)) []float64 {
	chunks := (n + sumChunk - 1) / sumChunk
	if need := chunks * k; len(part) < need {
		part = make([]float64, need)
	}
	part = part[:chunks*k]
	for i := range part {
		part[i] = 0
	}
	claim(chunks, n >= parMin, func(c int) {
		lo, hi := c*sumChunk, min(n, (c+1)*sumChunk)
		f(lo, hi, part[c*k:(c+1)*k])
	})
	for i := range out[:k] {
		out[i] = 0
	}
	for c := 0; c < chunks; c++ {
		for i := 0; i < k; i++ {
			out[i] += part[c*k+i]
		}
	}
	return part
}
