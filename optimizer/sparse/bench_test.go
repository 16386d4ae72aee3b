package sparse

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"testing"
)

// loadPattern reads an upper-triangular pattern stored as gzip'd uvarints:
// n, nnz, then per column its entry count and its row indices as
// ascending deltas.
func loadPattern(tb testing.TB, path string) (n int, cp, ri []int) {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		tb.Fatal(err)
	}
	r := bufio.NewReader(zr)
	get := func() int {
		v, err := binary.ReadUvarint(r)
		if err != nil {
			tb.Fatal(fmt.Errorf("%s: %w", path, err))
		}
		return int(v)
	}
	n = get()
	nnz := get()
	cp = make([]int, n+1)
	ri = make([]int, 0, nnz)
	for j := 0; j < n; j++ {
		c := get()
		prev := 0
		for ; c > 0; c-- {
			prev += get()
			ri = append(ri, prev)
		}
		cp[j+1] = len(ri)
	}
	if len(ri) != nnz {
		tb.Fatalf("%s: %d entries, header says %d", path, len(ri), nnz)
	}
	return n, cp, ri
}

// spdValues returns values for the upper pattern (cp, ri) of a symmetric,
// strictly diagonally dominant (hence positive definite) matrix.
func spdValues(n int, cp, ri []int, seed uint64) []float64 {
	rng := rand.New(rand.NewPCG(seed, 1))
	val := make([]float64, cp[n])
	rowSum := make([]float64, n)
	for k := 0; k < n; k++ {
		for p := cp[k]; p < cp[k+1]; p++ {
			if i := ri[p]; i != k {
				v := 2*rng.Float64() - 1
				val[p] = v
				rowSum[i] += math.Abs(v)
				rowSum[k] += math.Abs(v)
			}
		}
	}
	for k := 0; k < n; k++ {
		for p := cp[k]; p < cp[k+1]; p++ {
			if ri[p] == k {
				val[p] = rowSum[k] + 0.5 + rng.Float64()
			}
		}
	}
	return val
}

// BenchmarkCholeskyEV factors and solves the normal-equations pattern of
// the 10,000-EV generated scenario (44,921 rows) with the up-looking and
// the supernodal factorisation, the latter with the GOMAXPROCS schedule
// and with one worker.
func BenchmarkCholeskyEV(b *testing.B) {
	n, cp, ri := loadPattern(b, "testdata/ev10000_normal.pattern.gz")
	val := spdValues(n, cp, ri, 1)
	rhs := make([]float64, n)
	for i := range rhs {
		rhs[i] = float64(i%7) - 3
	}
	x := make([]float64, n)
	for _, alg := range []struct {
		name    string
		super   bool
		workers int // 0: GOMAXPROCS
	}{{"uplooking", false, 0}, {"supernodal", true, 0}, {"supernodal-1worker", true, 1}} {
		prev := useSupernodal
		useSupernodal = alg.super
		c, err := NewCholesky(n, cp, ri)
		useSupernodal = prev
		if err != nil {
			b.Fatal(err)
		}
		if alg.workers > 0 {
			c.sn.schedule(alg.workers, parallelMinWork)
		}
		b.Run(alg.name+"/factorize", func(b *testing.B) {
			for b.Loop() {
				if err := c.Factorize(val); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(alg.name+"/solve", func(b *testing.B) {
			for b.Loop() {
				copy(x, rhs)
				c.Solve(x)
			}
		})
	}
}

// BenchmarkCholeskySymbolic measures NewCholesky on the 10,000-EV pattern.
func BenchmarkCholeskySymbolic(b *testing.B) {
	n, cp, ri := loadPattern(b, "testdata/ev10000_normal.pattern.gz")
	for _, super := range []bool{false, true} {
		name := "uplooking"
		if super {
			name = "supernodal"
		}
		b.Run(name, func(b *testing.B) {
			prev := useSupernodal
			useSupernodal = super
			defer func() { useSupernodal = prev }()
			for b.Loop() {
				if _, err := NewCholesky(n, cp, ri); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
