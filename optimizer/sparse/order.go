package sparse

import (
	"math"
	"sort"
)

// pruneEvery sets how stale a variable list may grow before it is pruned:
// when pruneEvery times the number of possibly stale entries reaches its
// length.
const pruneEvery = 4

const (
	mdVariable = iota // not yet eliminated
	mdElement         // eliminated; represents the clique of its remaining neighbours
	mdDead            // absorbed element, or a dense node set aside
)

// MinimumDegree returns a fill-reducing elimination order for the n×n
// symmetric pattern given in compressed column form (colPtr, rowIdx). Either
// triangle, or both, may be given; the diagonal is ignored. perm[k] is the
// original index eliminated k-th.
//
// The method is minimum degree on the quotient graph with approximate
// external degrees and element absorption, in the spirit of AMD. Nodes whose
// degree exceeds max(16, min(10·√n, 50·average degree)) are treated as
// dense: they are set aside and ordered last, in increasing order of degree.
// This keeps the ordering near-linear for arrow-shaped patterns such as the
// node-balance rows of a dispatch LP, which touch every asset on the node.
func MinimumDegree(n int, colPtr, rowIdx []int) []int {
	return MinimumDegreeLast(n, colPtr, rowIdx, nil)
}

// MinimumDegreeLast is MinimumDegree with the nodes marked in last (nil:
// none) set aside like dense nodes and ordered last. It is the caller's
// knowledge of a nested structure the greedy order cannot see: in a
// two-level tree of coupling rows, the few low-degree rows of the upper
// level would otherwise be eliminated first and join every block below
// into one dense front.
func MinimumDegreeLast(n int, colPtr, rowIdx []int, last []bool) []int {
	if n == 0 {
		return []int{}
	}
	adj := symmetricAdjacency(n, colPtr, rowIdx)

	kind := make([]uint8, n)
	deg := make([]int, n)
	dense := []int{}
	threshold := int(10 * math.Sqrt(float64(n)))
	total := 0
	for i := 0; i < n; i++ {
		total += len(adj[i])
	}
	if t := 50 * total / n; t < threshold {
		threshold = t
	}
	if threshold < 16 {
		threshold = 16
	}
	for i := 0; i < n; i++ {
		deg[i] = len(adj[i])
		if deg[i] > threshold || (i < len(last) && last[i]) {
			kind[i] = mdDead
			dense = append(dense, i)
		}
	}
	if len(dense) > 0 {
		for i := 0; i < n; i++ {
			if kind[i] != mdVariable {
				adj[i] = nil
				continue
			}
			keep := adj[i][:0]
			for _, v := range adj[i] {
				if kind[v] == mdVariable {
					keep = append(keep, v)
				}
			}
			adj[i] = keep
			deg[i] = len(keep)
		}
	}

	adjE := make([][]int32, n)
	elemV := make([][]int32, n)
	w := make([]int, n)
	for i := range w {
		w[i] = -1
	}
	mark := make([]int, n)
	stamp := 0

	// Degree buckets: doubly linked lists, head[d] is the first node of degree d.
	head := make([]int, n)
	next := make([]int, n)
	prev := make([]int, n)
	for d := range head {
		head[d] = -1
	}
	insert := func(i int) {
		d := deg[i]
		next[i] = head[d]
		prev[i] = -1
		if head[d] >= 0 {
			prev[head[d]] = i
		}
		head[d] = i
	}
	remove := func(i int) {
		if prev[i] >= 0 {
			next[prev[i]] = next[i]
		} else {
			head[deg[i]] = next[i]
		}
		if next[i] >= 0 {
			prev[next[i]] = prev[i]
		}
	}
	alive := 0
	for i := n - 1; i >= 0; i-- {
		if kind[i] == mdVariable {
			insert(i)
			alive++
		}
	}

	perm := make([]int, 0, n)
	stale := make([]int, n) // variables added to Lp lists since adj[i] was pruned
	minDeg := 0
	touched := []int32{}
	// The Lp lists are built in lpBuf and kept in chunks of one array each
	// (an element's list never grows).
	var lpBuf, chunk []int32
	keep := func(src []int32) []int32 {
		if len(chunk) < len(src) {
			chunk = make([]int32, max(4096, len(src)))
		}
		v := chunk[:len(src):len(src)]
		copy(v, src)
		chunk = chunk[len(src):]
		return v
	}
	for alive > 0 {
		for head[minDeg] < 0 {
			minDeg++
		}
		p := head[minDeg]
		remove(p)
		alive--
		perm = append(perm, p)

		// Lp: the variables adjacent to p directly or through its elements.
		stamp++
		mark[p] = stamp
		lp := lpBuf[:0]
		for _, e := range adjE[p] {
			if kind[e] != mdElement {
				continue
			}
			for _, v := range elemV[e] {
				if kind[v] == mdVariable && mark[v] != stamp {
					mark[v] = stamp
					lp = append(lp, v)
				}
			}
			kind[e] = mdDead // absorbed into p
			elemV[e] = nil
		}
		for _, v := range adj[p] {
			if kind[v] == mdVariable && mark[v] != stamp {
				mark[v] = stamp
				lp = append(lp, v)
			}
		}
		lpBuf = lp
		lp = keep(lp)
		kind[p] = mdElement
		elemV[p] = lp
		adj[p] = nil
		adjE[p] = nil

		// w[e] = |Le \ Lp| for every element adjacent to some i in Lp.
		touched = touched[:0]
		for _, i := range lp {
			for _, e := range adjE[i] {
				if kind[e] != mdElement {
					continue
				}
				if w[e] < 0 {
					w[e] = len(elemV[e])
					touched = append(touched, e)
				}
				w[e]--
			}
		}

		lpLen := len(lp)
		for _, i := range lp {
			remove(int(i))
			sumW := 0
			es := adjE[i][:0]
			for _, e := range adjE[i] {
				if kind[e] != mdElement {
					continue
				}
				if w[e] == 0 {
					// Le ⊆ Lp: aggressive absorption.
					kind[e] = mdDead
					elemV[e] = nil
					continue
				}
				sumW += w[e]
				es = append(es, e)
			}
			adjE[i] = append(es, int32(p))
			// Prune i's variable list of the variables now covered by
			// element p (and of eliminated ones) only once enough of it
			// may be stale: a long list (a node-balance row adjacent to
			// hundreds of assets) touched by every neighbour's
			// elimination would otherwise be scanned each time. Stale
			// entries only make the degree estimate below larger, and it
			// stays bounded by deg[i] + |Lp| − 1.
			stale[i] += lpLen
			if pruneEvery*stale[i] >= len(adj[i]) {
				stale[i] = 0
				vs := adj[i][:0]
				for _, v := range adj[i] {
					if kind[v] == mdVariable && mark[v] != stamp {
						vs = append(vs, v)
					}
				}
				adj[i] = vs
			}
			d := len(adj[i]) + lpLen - 1 + sumW
			if b := deg[i] + lpLen - 1; b < d {
				d = b
			}
			if b := alive - 1; b < d {
				d = b
			}
			if d < 0 {
				d = 0
			}
			deg[i] = d
			insert(int(i))
			if d < minDeg {
				minDeg = d
			}
		}
		for _, e := range touched {
			w[e] = -1
		}
	}

	sort.SliceStable(dense, func(a, b int) bool { return deg[dense[a]] < deg[dense[b]] })
	return append(perm, dense...)
}

// symmetricAdjacency returns, for each node, its sorted distinct neighbours in
// the symmetrised pattern, excluding itself.
func symmetricAdjacency(n int, colPtr, rowIdx []int) [][]int32 {
	count := make([]int, n)
	for j := 0; j < n; j++ {
		for p := colPtr[j]; p < colPtr[j+1]; p++ {
			if i := rowIdx[p]; i != j {
				count[i]++
				count[j]++
			}
		}
	}
	// One array holds every list; each list's capacity ends where the next
	// one begins, so an append past it moves the list elsewhere.
	total := 0
	for _, c := range count {
		total += c
	}
	all := make([]int32, total)
	adj := make([][]int32, n)
	off := 0
	for i := range adj {
		adj[i] = all[off : off : off+count[i]]
		off += count[i]
	}
	for j := 0; j < n; j++ {
		for p := colPtr[j]; p < colPtr[j+1]; p++ {
			if i := rowIdx[p]; i != j {
				adj[i] = append(adj[i], int32(j))
				adj[j] = append(adj[j], int32(i))
			}
		}
	}
	mark := make([]int, n)
	for i := range mark {
		mark[i] = -1
	}
	for i := range adj {
		keep := adj[i][:0]
		for _, v := range adj[i] {
			if mark[v] != i {
				mark[v] = i
				keep = append(keep, v)
			}
		}
		adj[i] = keep
	}
	return adj
}
