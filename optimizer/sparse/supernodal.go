package sparse

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
)

// supernodal is the symbolic and numeric state of the supernodal
// factorisation behind Cholesky.
//
// The input pattern is first permuted into a postorder of its elimination
// tree (same fill, same work) so that every subtree occupies a contiguous
// range of columns. Columns with nested structure are grouped into
// supernodes, and small supernodes are merged into their parents when that
// adds few explicit zeros (relaxed amalgamation). Supernode s holds the
// columns first[s]..first[s+1]-1 and the rows rows[rptr[s]:rptr[s+1]]
// (its own columns first, then the rows below, ascending); its part of L is
// stored densely, row-major, in lx[xptr[s]:xptr[s+1]] (nrows × ncols; the
// strict upper triangle of the leading ncols × ncols block is unused).
type supernodal struct {
	n    int
	perm []int // perm[k] is the input index of internal column k

	first []int // ns+1 entries
	rptr  []int
	rows  []int32
	xptr  []int
	lx    []float64
	dinv  []float64 // reciprocals of the diagonal of L

	// Assembly: input entry p is copied to av[apos[p]]; the entries of
	// supernode s are then L_s[adst[q]] = av[q] for q in aptr[s]..aptr[s+1]-1
	// (positions relative to the supernode). The copy reads val in order
	// and the scatter stays within one supernode.
	aptr, apos, adst []int
	av               []float64

	// Updates into supernode s, by descendants in ascending order:
	// upd[uptr[s]:uptr[s+1]].
	uptr []int
	upd  []update

	// Parallel schedule over supernodes: each part lists the supernodes
	// of some disjoint subtrees (ascending); the workers take the parts
	// in turn. top lists the rest, factored afterwards.
	part    [][]int
	top     []int
	scat    []int32 // per supernode of a part: its rows below in the part
	workers int     // for the supernodes of the top

	sd []snDesc // per supernode, for the solves

	colCount []int // entries of each column of L below the diagonal
	nnzL     int
	maxCols  int // largest supernode: columns
	maxRows  int // and rows

	fws  []*workspace // factorisation workspaces, one per worker
	xbuf sync.Pool    // *[]float64: the permuted vector of a solve
}

// update says that the rows lo..hi-1 of supernode d are columns of the
// target supernode; the rows from lo to the end of d update it. The
// location of d is copied in so that applying an update reads one record.
type update struct {
	d, lo, hi int32
	dnc, m    int32 // columns and rows of d
	fd        int   // first column of d
	rows, x   int   // d's rows start at s.rows[rows], its values at s.lx[x]
}

// snDesc locates a supernode: columns f..f+nc-1, rows rows[r0:r0+nr],
// values lx[x0:x0+nr*nc].
type snDesc struct {
	f, nc, nr int32
	r0, x0    int
}

type workspace struct {
	relpos []int32
	inv    []float64 // reciprocals of a supernode's diagonal
	orig   []float64 // a supernode's diagonal entries of A
	tcol   []int     // target columns of an update
	trow   []int     // offsets in L of an update's rows
}

// newSupernodal builds the symbolic factorisation of the validated upper
// pattern (colPtr, rowIdx) with elimination tree parent.
// The arrays it keeps come from keep; its temporaries from an arena of its own.
func newSupernodal(n int, colPtr, rowIdx, parent []int, keep *arena) *supernodal {
	s := &supernodal{n: n}
	tmp := getArena()
	defer putArena(tmp)
	ti := &tmp.ints
	// Postorder of the elimination tree, children in ascending order.
	head := ti.Take(n)
	nextSib := ti.Take(n)
	for i := range head {
		head[i] = -1
	}
	for j := n - 1; j >= 0; j-- {
		if p := parent[j]; p >= 0 {
			nextSib[j] = head[p]
			head[p] = j
		}
	}
	s.perm = keep.ints.Take(n)[:0]
	stack := make([]int, 0, 64)
	for r := 0; r < n; r++ {
		if parent[r] >= 0 {
			continue
		}
		stack = append(stack[:0], r)
		for len(stack) > 0 {
			top := stack[len(stack)-1]
			if c := head[top]; c >= 0 {
				head[top] = nextSib[c]
				stack = append(stack, c)
				continue
			}
			stack = stack[:len(stack)-1]
			s.perm = append(s.perm, top)
		}
	}
	iperm := ti.Take(n)
	for k, i := range s.perm {
		iperm[i] = k
	}
	par := ti.Take(n)
	for k, i := range s.perm {
		if p := parent[i]; p >= 0 {
			par[k] = iperm[p]
		} else {
			par[k] = -1
		}
	}

	// Permuted upper pattern (internal indices).
	pcp := ti.Take(n + 1)
	for k := 0; k < n; k++ {
		for p := colPtr[k]; p < colPtr[k+1]; p++ {
			a, b := iperm[rowIdx[p]], iperm[k]
			if a > b {
				b = a
			}
			pcp[b+1]++
		}
	}
	for k := 0; k < n; k++ {
		pcp[k+1] += pcp[k]
	}
	pri := ti.Take(pcp[n])
	fill := ti.Take(n)
	copy(fill, pcp[:n])
	for k := 0; k < n; k++ {
		for p := colPtr[k]; p < colPtr[k+1]; p++ {
			a, b := iperm[rowIdx[p]], iperm[k]
			if a > b {
				a, b = b, a
			}
			pri[fill[b]] = a
			fill[b]++
		}
	}

	// Column counts of L from the row structures (elimination-tree reach
	// of each row's entries).
	flag := ti.Take(n)
	for i := range flag {
		flag[i] = -1
	}
	s.colCount = keep.ints.Take(n)
	nnzBelow := 0
	for k := 0; k < n; k++ {
		flag[k] = k
		for p := pcp[k]; p < pcp[k+1]; p++ {
			for i := pri[p]; flag[i] != k; i = par[i] {
				flag[i] = k
				s.colCount[i]++
				nnzBelow++
			}
		}
	}
	s.nnzL = n + nnzBelow

	// Fundamental supernodes: column j joins j+1 when j+1 is its parent
	// and the structure of j is that of j+1 plus j itself.
	var fFirst []int
	for j := 0; j < n; j++ {
		if j == 0 || !(par[j-1] == j && s.colCount[j-1] == s.colCount[j]+1) {
			fFirst = append(fFirst, j)
		}
	}
	nf := len(fFirst)
	fFirst = append(fFirst, n)
	snode := ti.Take(n)
	for f := 0; f < nf; f++ {
		for j := fFirst[f]; j < fFirst[f+1]; j++ {
			snode[j] = f
		}
	}

	// Relaxed amalgamation, from the top of the tree down: a supernode
	// merges into its parent's (current) supernode when their columns are
	// contiguous and the merge adds few explicit zeros.
	type stat struct {
		first, ncols, nrows int
		zeros               float64
	}
	st := make([]stat, nf)
	rep := ti.Take(nf) // supernode a fundamental one was merged into
	for f := 0; f < nf; f++ {
		nc := fFirst[f+1] - fFirst[f]
		st[f] = stat{first: fFirst[f], ncols: nc, nrows: 1 + s.colCount[fFirst[f]]}
		rep[f] = f
	}
	find := func(f int) int {
		for rep[f] != f {
			rep[f] = rep[rep[f]]
			f = rep[f]
		}
		return f
	}
	for f := nf - 2; f >= 0; f-- {
		last := fFirst[f+1] - 1
		if par[last] < 0 {
			continue
		}
		p := find(snode[par[last]])
		if st[p].first != last+1 {
			continue
		}
		c := st[f]
		ncols := c.ncols + st[p].ncols
		nrows := c.ncols + st[p].nrows
		extra := float64(c.ncols) * float64(c.ncols+st[p].nrows-c.nrows)
		zeros := c.zeros + st[p].zeros + extra
		total := float64(ncols)*float64(nrows) - float64(ncols)*float64(ncols-1)/2
		frac := zeros / total
		if extra != 0 && !(frac < relaxZeroShare) {
			continue
		}
		st[p] = stat{first: c.first, ncols: ncols, nrows: nrows, zeros: zeros}
		rep[f] = p
	}
	s.first = s.first[:0]
	for f := 0; f < nf; f++ {
		if find(f) == f {
			s.first = append(s.first, st[f].first)
		}
	}
	sort.Ints(s.first)
	ns := len(s.first)
	s.first = append(s.first, n)
	for k := 0; k < ns; k++ {
		for j := s.first[k]; j < s.first[k+1]; j++ {
			snode[j] = k
		}
	}

	// The lower triangle by columns: entry q of column a is row lri[q],
	// input entry lsrc[q].
	lcp := ti.Take(n + 1)
	for k := 0; k < n; k++ {
		for p := colPtr[k]; p < colPtr[k+1]; p++ {
			lcp[min(iperm[rowIdx[p]], iperm[k])+1]++
		}
	}
	for k := 0; k < n; k++ {
		lcp[k+1] += lcp[k]
	}
	nnzA := colPtr[n]
	lri := ti.Take(nnzA)
	lsrc := ti.Take(nnzA)
	copy(fill, lcp[:n])
	for k := 0; k < n; k++ {
		for p := colPtr[k]; p < colPtr[k+1]; p++ {
			a, b := iperm[rowIdx[p]], iperm[k]
			if a > b {
				a, b = b, a
			}
			lri[fill[a]] = b
			lsrc[fill[a]] = p
			fill[a]++
		}
	}

	// Row structure of each supernode (children before parents): its
	// columns, then the rows below them of its entries of A and of its
	// children's structures. The assembly map follows: input entry p goes
	// to av[apos[p]], and av[q] to position adst[q] of its supernode.
	ki := &keep.ints
	s.rptr = ki.Take(ns + 1)
	s.xptr = ki.Take(ns + 1)
	s.aptr = ki.Take(ns + 1)
	s.apos = ki.Take(nnzA)
	s.adst = ki.Take(nnzA)
	s.av = keep.f64.Take(nnzA)
	for i := range flag {
		flag[i] = -1
	}
	children := make([][]int, ns)
	pos := ti.Take(n)
	q := 0
	for k := 0; k < ns; k++ {
		f, l := s.first[k], s.first[k+1]
		start := len(s.rows)
		for j := f; j < l; j++ {
			s.rows = append(s.rows, int32(j))
		}
		below := len(s.rows)
		add := func(i int) {
			if i >= l && flag[i] != k {
				flag[i] = k
				s.rows = append(s.rows, int32(i))
			}
		}
		for e := lcp[f]; e < lcp[l]; e++ {
			add(lri[e])
		}
		for _, c := range children[k] {
			for _, i := range s.rows[s.rptr[c]+s.ncols(c) : s.rptr[c+1]] {
				add(int(i))
			}
		}
		slices.Sort(s.rows[below:])
		s.rptr[k+1] = len(s.rows)
		nr := s.rptr[k+1] - start
		s.xptr[k+1] = s.xptr[k] + nr*(l-f)
		s.maxCols = max(s.maxCols, l-f)
		s.maxRows = max(s.maxRows, nr)
		if nr > l-f {
			p := snode[s.rows[below]]
			children[p] = append(children[p], k)
		}
		for r, i := range s.rows[start:] {
			pos[i] = r
		}
		for a := f; a < l; a++ {
			for e := lcp[a]; e < lcp[a+1]; e++ {
				s.apos[lsrc[e]] = q
				s.adst[q] = pos[lri[e]]*(l-f) + (a - f)
				q++
			}
		}
		s.aptr[k+1] = q
	}
	s.lx = keep.f64.Take(s.xptr[ns])
	s.dinv = keep.f64.Take(n)

	// Update lists: the rows of d below its columns, grouped by the
	// supernode they fall in.
	s.uptr = ki.Take(ns + 1)
	forGroups := func(d int, f func(t, lo, hi int)) {
		rs := s.rows[s.rptr[d]:s.rptr[d+1]]
		nc := s.first[d+1] - s.first[d]
		for lo := nc; lo < len(rs); {
			t := snode[rs[lo]]
			hi := lo + 1
			for hi < len(rs) && int(rs[hi]) < s.first[t+1] {
				hi++
			}
			f(t, lo, hi)
			lo = hi
		}
	}
	for d := 0; d < ns; d++ {
		forGroups(d, func(t, _, _ int) { s.uptr[t+1]++ })
	}
	for k := 0; k < ns; k++ {
		s.uptr[k+1] += s.uptr[k]
	}
	s.upd = keep.upd.Take(s.uptr[ns])
	ufill := ti.Take(ns)
	copy(ufill, s.uptr[:ns])
	for d := 0; d < ns; d++ {
		forGroups(d, func(t, lo, hi int) {
			s.upd[ufill[t]] = update{d: int32(d), lo: int32(lo), hi: int32(hi),
				dnc: int32(s.ncols(d)), m: int32(s.rptr[d+1] - s.rptr[d]),
				fd: s.first[d], rows: s.rptr[d], x: s.xptr[d]}
			ufill[t]++
		})
	}
	s.sd = keep.sd.Take(ns)
	for k := range s.sd {
		s.sd[k] = snDesc{f: int32(s.first[k]), nc: int32(s.ncols(k)), nr: int32(s.rptr[k+1] - s.rptr[k]),
			r0: s.rptr[k], x0: s.xptr[k]}
	}
	return s
}

// partsPerWorker is the number of parts of the schedule per worker.
const partsPerWorker = 4

// parallelSuperWork is the estimated work (multiply-adds) above which a
// supernode of the top is factored by all workers.
const parallelSuperWork = 2e5

// relaxZeroShare is the largest share of explicit zeros in a supernode
// that relaxed amalgamation accepts. The patterns of dispatch LPs have
// long chains of columns with shifted (banded) structure rather than large
// dense blocks, and every stored zero also costs in each solve, so the
// share is kept small.
var relaxZeroShare = 0.1

// flops returns Σ over columns of the squared count below the diagonal,
// in total and in the columns of the top supernodes.
func (s *supernodal) flops() (total, top float64) {
	for _, k := range s.top {
		for j := s.first[k]; j < s.first[k+1]; j++ {
			top += float64(s.colCount[j]) * float64(s.colCount[j])
		}
	}
	for _, c := range s.colCount {
		total += float64(c) * float64(c)
	}
	return total, top
}

func (s *supernodal) ncols(k int) int { return s.first[k+1] - s.first[k] }

// work estimates the multiply-adds of factoring supernode k (its own dense
// factorisation plus the updates it receives).
func (s *supernodal) work(k int) float64 {
	nc := float64(s.ncols(k))
	nr := float64(s.rptr[k+1] - s.rptr[k])
	w := nc * nc * (nr - nc/3) / 2
	for _, u := range s.upd[s.uptr[k]:s.uptr[k+1]] {
		dn := float64(s.ncols(int(u.d)))
		dr := float64(s.rptr[u.d+1]-s.rptr[u.d]) - float64(u.lo)
		w += dn * dr * float64(u.hi-u.lo)
	}
	return w + 1
}

// schedule splits the supernodal elimination forest into disjoint subtrees
// for the given number of workers. A supernode only reads supernodes of its
// own subtree, so subtrees are factored concurrently; supernodes outside
// the chosen subtrees form the top, factored after them.
func (s *supernodal) schedule(workers int, minWork float64) {
	ns := len(s.first) - 1
	s.workers = max(workers, 1)
	s.part, s.top = nil, nil
	work := make([]float64, ns)
	total := 0.0
	for k := 0; k < ns; k++ {
		work[k] = s.work(k)
		total += work[k]
	}
	all := func() {
		s.part = nil
		s.top = make([]int, ns)
		for k := range s.top {
			s.top[k] = k
		}
	}
	if workers < 2 || total < minWork {
		all()
		return
	}
	sparent := make([]int, ns)
	snodeOf := func(j int) int {
		return sort.Search(ns, func(k int) bool { return s.first[k+1] > j })
	}
	for k := 0; k < ns; k++ {
		sparent[k] = -1
		if s.rptr[k+1]-s.rptr[k] > s.ncols(k) {
			sparent[k] = snodeOf(int(s.rows[s.rptr[k]+s.ncols(k)]))
		}
	}
	subs, isTop, sub := splitSubtrees(sparent, work, total/float64(4*workers))
	// Subtrees to parts in contiguous runs (in column order), balanced by
	// work, so that each part's columns, rows and values form one range.
	// There are a few parts per worker: workers claim them in turn, so a
	// worker delayed by a busy machine holds up the others less.
	parts := partsPerWorker * workers
	slices.Sort(subs)
	subTotal := 0.0
	for _, r := range subs {
		subTotal += sub[r]
	}
	owner := make([]int, ns)
	for i := range owner {
		owner[i] = -1
	}
	cum := 0.0
	for _, r := range subs {
		owner[r] = min(parts-1, int((cum+sub[r]/2)/subTotal*float64(parts)))
		cum += sub[r]
	}
	topWork := 0.0
	for k := ns - 1; k >= 0; k-- {
		if isTop[k] {
			topWork += work[k]
			continue
		}
		if owner[k] < 0 {
			owner[k] = owner[sparent[k]]
		}
	}
	if topWork > 0.9*total {
		all()
		return
	}
	s.part = make([][]int, parts)
	topCol := make([]bool, s.n)
	for k := 0; k < ns; k++ {
		if isTop[k] {
			for j := s.first[k]; j < s.first[k+1]; j++ {
				topCol[j] = true
			}
			s.top = append(s.top, k)
		} else {
			s.part[owner[k]] = append(s.part[owner[k]], k)
		}
	}
	// The rows below a supernode of a part are its ancestors: first those
	// of its own subtree, then (higher) those of the top.
	s.scat = make([]int32, ns)
	for k := 0; k < ns; k++ {
		if isTop[k] {
			continue
		}
		rs := s.rows[s.rptr[k]+s.ncols(k) : s.rptr[k+1]]
		n := 0
		for n < len(rs) && !topCol[rs[n]] {
			n++
		}
		s.scat[k] = int32(n)
	}
}

// workspace returns the factorisation workspace of worker w; factorize
// creates those of all workers before going parallel.
func (s *supernodal) workspace(w int) *workspace {
	for len(s.fws) <= w {
		s.fws = append(s.fws, nil)
	}
	if s.fws[w] == nil {
		s.fws[w] = &workspace{relpos: make([]int32, s.n),
			inv: make([]float64, s.maxCols), orig: make([]float64, s.maxCols),
			tcol: make([]int, s.maxCols), trow: make([]int, s.maxRows)}
	}
	return s.fws[w]
}

// factorize computes the numeric factor; it returns the number of replaced
// pivots.
func (s *supernodal) factorize(val []float64, tol float64) (int, error) {
	if !allFinite(val) {
		for p, v := range val {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return 0, fmt.Errorf("sparse: cholesky: non-finite value %v at entry %d", v, p)
			}
		}
	}
	for w := 0; w < s.workers; w++ {
		s.workspace(w)
	}
	// Values into assembly order, in parallel ranges when the schedule is.
	chunks := 1
	if s.part != nil {
		chunks = 4 * s.workers
	}
	s.parallel(chunks, func(i, _ int) {
		s.scatterValues(val, i*len(val)/chunks, (i+1)*len(val)/chunks)
	})
	replaced := 0
	if s.part != nil {
		errs := make([]error, len(s.part))
		repl := make([]int, len(s.part))
		s.parallel(len(s.part), func(i, w int) {
			repl[i], errs[i] = s.factorList(tol, s.part[i], false, s.workspace(w))
		})
		for w := range errs {
			replaced += repl[w]
			if errs[w] != nil {
				return replaced, errs[w]
			}
		}
	}
	r, err := s.factorList(tol, s.top, s.workers > 1, s.workspace(0))
	return replaced + r, err
}

// parallel calls f(i, w) for i in 0..n-1 on up to s.workers goroutines
// (the caller's, w = 0, included); w identifies the worker. Indices are
// claimed in order as workers become free, so a helper that starts late
// (on a busy machine) finds less or no work; parallel returns once every
// index is done. What f computes must not depend on which worker runs it.
func (s *supernodal) parallel(n int, f func(i, w int)) {
	var next atomic.Int64
	var pending sync.WaitGroup
	pending.Add(n)
	work := func(w int) {
		for {
			i := int(next.Add(1)) - 1
			if i >= n {
				return
			}
			f(i, w)
			pending.Done()
		}
	}
	for w := 1; w < min(s.workers, n); w++ {
		go work(w)
	}
	work(0)
	pending.Wait()
}

func (s *supernodal) scatterValues(val []float64, lo, hi int) {
	av := s.av
	apos := s.apos[lo:hi]
	for p, v := range val[lo:hi] {
		av[apos[p]] = v
	}
}

// factorList factors the supernodes of list in order; with split, those
// with more than parallelSuperWork estimated work are split over the
// workers.
func (s *supernodal) factorList(tol float64, list []int, split bool, ws *workspace) (int, error) {
	replaced := 0
	for _, k := range list {
		var r int
		var err error
		if split && s.work(k) > parallelSuperWork {
			r, err = s.factorSuperParallel(k, tol, ws)
		} else {
			r, err = s.factorSuper(k, tol, ws)
		}
		replaced += r
		if err != nil {
			return replaced, err
		}
	}
	return replaced, nil
}

// factorSuper assembles, updates and factors supernode k.
func (s *supernodal) factorSuper(k int, tol float64, ws *workspace) (int, error) {
	s.assemble(k, ws)
	s.setRelpos(k, ws)
	nr := s.rptr[k+1] - s.rptr[k]
	s.applyUpdates(k, ws, 0, nr)
	replaced := s.factorLead(k, tol, ws)
	s.factorBelow(k, ws.inv[:s.ncols(k)], s.ncols(k), nr)
	return replaced, s.checkFinite(k)
}

// factorSuperParallel is factorSuper with the updates and the rows below
// the leading block split over the workers in row ranges. Every entry is
// computed exactly as in factorSuper.
func (s *supernodal) factorSuperParallel(k int, tol float64, ws *workspace) (int, error) {
	nc := s.ncols(k)
	nr := s.rptr[k+1] - s.rptr[k]
	s.assemble(k, ws)
	// Row ranges with equal shares of the trapezoid's area.
	area := func(i int) float64 { // entries in rows 0..i-1
		if i <= nc {
			return float64(i) * float64(i+1) / 2
		}
		return float64(nc)*float64(nc+1)/2 + float64(i-nc)*float64(nc)
	}
	// Two ranges per worker: a worker that starts late still finds work,
	// and each range costs a search per update.
	chunks := 2 * s.workers
	bounds := make([]int, chunks+1)
	bounds[chunks] = nr
	for w := 1; w < chunks; w++ {
		target := area(nr) * float64(w) / float64(chunks)
		bounds[w] = sort.Search(nr, func(i int) bool { return area(i) >= target })
	}
	s.parallel(chunks, func(i, w int) {
		ws := s.workspace(w)
		s.setRelpos(k, ws)
		s.applyUpdates(k, ws, bounds[i], bounds[i+1])
	})
	replaced := s.factorLead(k, tol, ws)
	inv := ws.inv[:nc]
	if nr > nc {
		s.parallel(chunks, func(i, _ int) {
			s.factorBelow(k, inv, nc+(nr-nc)*i/chunks, nc+(nr-nc)*(i+1)/chunks)
		})
	}
	return replaced, s.checkFinite(k)
}

// assemble sets supernode k to its entries of A and records its diagonal.
func (s *supernodal) assemble(k int, ws *workspace) {
	nc := s.ncols(k)
	L := s.lx[s.xptr[k]:s.xptr[k+1]]
	clear(L)
	av := s.av[s.aptr[k]:s.aptr[k+1]]
	for q, d := range s.adst[s.aptr[k]:s.aptr[k+1]] {
		L[d] += av[q] // duplicate pattern entries add up
	}
	orig := ws.orig[:nc]
	for c := range orig {
		orig[c] = L[c*nc+c]
	}
}

func (s *supernodal) setRelpos(k int, ws *workspace) {
	for i, r := range s.rows[s.rptr[k]:s.rptr[k+1]] {
		ws.relpos[r] = int32(i)
	}
}

// applyUpdates subtracts the updates of all descendants from the rows
// rlo..rhi-1 (positions) of supernode k, descendants in ascending order.
func (s *supernodal) applyUpdates(k int, ws *workspace, rlo, rhi int) {
	f := s.first[k]
	nc := s.first[k+1] - f
	nr := s.rptr[k+1] - s.rptr[k]
	L := s.lx[s.xptr[k]:s.xptr[k+1]]
	relpos := ws.relpos
	whole := rlo == 0 && rhi == nr
	for _, u := range s.upd[s.uptr[k]:s.uptr[k+1]] {
		if u.dnc == 1 && whole {
			// A single column: its outer product, scattered column by
			// column through the rows' offsets in L.
			lo, hi, m := int(u.lo), int(u.hi), int(u.m)
			drs := s.rows[u.rows+lo : u.rows+m]
			LD := s.lx[u.x+lo : u.x+m]
			tr := ws.trow[:len(drs)]
			for q, i := range drs {
				tr[q] = int(relpos[i]) * nc
			}
			for c := 0; c < hi-lo; c++ {
				col, lc := int(drs[c])-f, LD[c]
				for q := c; q < len(tr); q++ {
					L[tr[q]+col] -= LD[q] * lc
				}
			}
			continue
		}
		dnc := int(u.dnc)
		drs := s.rows[u.rows : u.rows+int(u.m)]
		LD := s.lx[u.x : u.x+int(u.m)*dnc]
		ra, rb := int(u.lo), len(drs)
		if rlo > 0 || rhi < nr {
			ra = int(u.lo) + sort.Search(len(drs)-int(u.lo), func(i int) bool { return int(relpos[drs[int(u.lo)+i]]) >= rlo })
			rb = ra + sort.Search(len(drs)-ra, func(i int) bool { return int(relpos[drs[ra+i]]) >= rhi })
		}
		updateFrom(L, nc, relpos, ws.tcol, f, LD, dnc, drs, int(u.lo), int(u.hi), ra, rb)
	}
}

// factorLead factors the leading ncols×ncols block of supernode k (already
// updated), replacing dependent pivots, and leaves the reciprocals of the
// diagonal in ws.inv.
func (s *supernodal) factorLead(k int, tol float64, ws *workspace) int {
	nc := s.ncols(k)
	L := s.lx[s.xptr[k]:s.xptr[k+1]]
	orig := ws.orig[:nc]
	inv := ws.inv[:nc]
	replaced := 0
	for r := 0; r < nc; r++ {
		row := L[r*nc : r*nc+nc]
		for c := 0; c < r; c++ {
			row[c] = (row[c] - dot(row[:c], L[c*nc:c*nc+c])) * inv[c]
		}
		d := row[r] - dot(row[:r], row[:r])
		if !(d > tol*math.Abs(orig[r])) || d <= 0 {
			d = hugePivot
			replaced++
		}
		row[r] = math.Sqrt(d)
		inv[r] = 1 / row[r]
	}
	copy(s.dinv[s.first[k]:], inv)
	return replaced
}

// factorBelow computes the rows rlo..rhi-1 (positions at or below ncols)
// of supernode k: row := row·Ld⁻ᵀ, inv holding the reciprocals of the
// diagonal. Rows are taken two at a time; each
// entry is computed the same way whatever the pairing.
func (s *supernodal) factorBelow(k int, inv []float64, rlo, rhi int) {
	nc := s.ncols(k)
	L := s.lx[s.xptr[k]:s.xptr[k+1]]
	r := rlo
	for ; r+1 < rhi; r += 2 {
		row0 := L[r*nc : r*nc+nc]
		row1 := L[(r+1)*nc : (r+1)*nc+nc]
		for c := 0; c < nc; c++ {
			s0, s1 := dot2x1(row0[:c], row1[:c], L[c*nc:c*nc+c])
			row0[c] = (row0[c] - s0) * inv[c]
			row1[c] = (row1[c] - s1) * inv[c]
		}
	}
	if r < rhi {
		row := L[r*nc : r*nc+nc]
		for c := 0; c < nc; c++ {
			row[c] = (row[c] - dot1(row[:c], L[c*nc:c*nc+c])) * inv[c]
		}
	}
}

// allFinite reports whether no entry of v is infinite or NaN: v-v is
// zero for finite v and NaN otherwise; four sums keep the additions
// independent.
func allFinite(v []float64) bool {
	var z0, z1, z2, z3 float64
	i := 0
	for ; i+4 <= len(v); i += 4 {
		w := v[i : i+4 : i+4]
		z0 += w[0] - w[0]
		z1 += w[1] - w[1]
		z2 += w[2] - w[2]
		z3 += w[3] - w[3]
	}
	for ; i < len(v); i++ {
		z0 += v[i] - v[i]
	}
	return (z0+z1)+(z2+z3) == 0
}

// checkFinite reports a non-finite entry of supernode k.
func (s *supernodal) checkFinite(k int) error {
	L := s.lx[s.xptr[k]:s.xptr[k+1]]
	if allFinite(L) {
		return nil
	}
	for _, v := range L {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			f := s.first[k]
			return fmt.Errorf("sparse: cholesky: factor has non-finite entry %v in columns %d..%d", v, f, s.first[k+1]-1)
		}
	}
	return nil
}

// updateFrom subtracts from the target supernode (L, nc columns starting
// at column f, row positions relpos) the product of the rows lo.. of the
// descendant LD (dnc columns, rows drs) with its rows lo..hi-1 transposed:
// the lower triangle of that product, scattered by row and column index.
// Rows are taken in pairs and columns in pairs so that four sums share
// their loads; every sum runs over the dnc columns in ascending order.
func updateFrom(L []float64, nc int, relpos []int32, tcol []int, f int, LD []float64, dnc int, drs []int32, lo, hi, ra, rb int) {
	m := rb
	if dnc == 1 {
		if hi-lo == 1 {
			col, lc := int(drs[lo])-f, LD[lo]
			for r := max(lo, ra); r < m; r++ {
				L[int(relpos[drs[r]])*nc+col] -= LD[r] * lc
			}
			return
		}
		tc := tcol[:hi-lo]
		for q := range tc {
			tc[q] = int(drs[lo+q]) - f
		}
		lc := LD[lo:hi]
		for r := max(lo, ra); r < m; r++ {
			ar := LD[r]
			dst := rowOf(L, nc, relpos[drs[r]])
			for q, col := range tc[:min(r+1, hi)-lo] {
				dst[col] -= ar * lc[q]
			}
		}
		return
	}
	r := max(lo, ra)
	for ; r+1 < m; r += 2 {
		a0 := LD[r*dnc : r*dnc+dnc]
		a1 := LD[(r+1)*dnc : (r+1)*dnc+dnc]
		d0 := rowOf(L, nc, relpos[drs[r]])
		d1 := rowOf(L, nc, relpos[drs[r+1]])
		end0 := min(r+1, hi) // columns of row r
		end1 := min(r+2, hi) // columns of row r+1
		c := lo
		for ; c+1 < end1; c += 2 {
			b0 := LD[c*dnc : c*dnc+dnc]
			b1 := LD[(c+1)*dnc : (c+1)*dnc+dnc]
			s00, s01, s10, s11 := dot2x2(a0, a1, b0, b1)
			j0, j1 := int(drs[c])-f, int(drs[c+1])-f
			d0[j0] -= s00
			if c+1 < end0 {
				d0[j1] -= s01
			}
			d1[j0] -= s10
			d1[j1] -= s11
		}
		if c < end1 {
			b0 := LD[c*dnc : c*dnc+dnc]
			s0, s1 := dot2x1(a0, a1, b0)
			j0 := int(drs[c]) - f
			if c < end0 {
				d0[j0] -= s0
			}
			d1[j0] -= s1
		}
	}
	if r < m {
		a0 := LD[r*dnc : r*dnc+dnc]
		d0 := rowOf(L, nc, relpos[drs[r]])
		end0 := min(r+1, hi)
		c := lo
		for ; c+1 < end0; c += 2 {
			b0 := LD[c*dnc : c*dnc+dnc]
			b1 := LD[(c+1)*dnc : (c+1)*dnc+dnc]
			s0, s1 := dot2x1(b0, b1, a0)
			d0[int(drs[c])-f] -= s0
			d0[int(drs[c+1])-f] -= s1
		}
		if c < end0 {
			d0[int(drs[c])-f] -= dot1(a0, LD[c*dnc:c*dnc+dnc])
		}
	}
}

// rowOf returns row r of the row-major matrix L with nc columns.
func rowOf(L []float64, nc int, r int32) []float64 {
	i := int(r) * nc
	return L[i : i+nc]
}

// dot2x2 returns the four products a0·b0, a0·b1, a1·b0, a1·b1 of vectors
// of length len(a0), each summed in ascending order.
func dot2x2(a0, a1, b0, b1 []float64) (s00, s01, s10, s11 float64) {
	a1 = a1[:len(a0)]
	b0 = b0[:len(a0)]
	b1 = b1[:len(a0)]
	for i, x0 := range a0 {
		x1 := a1[i]
		y0, y1 := b0[i], b1[i]
		s00 += x0 * y0
		s01 += x0 * y1
		s10 += x1 * y0
		s11 += x1 * y1
	}
	return
}

// dot2x1 returns a0·b and a1·b, each summed in ascending order.
func dot2x1(a0, a1, b []float64) (s0, s1 float64) {
	a1 = a1[:len(a0)]
	b = b[:len(a0)]
	for i, x0 := range a0 {
		y := b[i]
		s0 += x0 * y
		s1 += a1[i] * y
	}
	return
}

// dot4x1 returns a0·b, a1·b, a2·b and a3·b, each summed in ascending
// order.
func dot4x1(a0, a1, a2, a3, b []float64) (s0, s1, s2, s3 float64) {
	a1 = a1[:len(a0)]
	a2 = a2[:len(a0)]
	a3 = a3[:len(a0)]
	b = b[:len(a0)]
	for i, y := range b {
		s0 += a0[i] * y
		s1 += a1[i] * y
		s2 += a2[i] * y
		s3 += a3[i] * y
	}
	return
}

// dot1 returns a·b summed in ascending order.
func dot1(a, b []float64) (s float64) {
	b = b[:len(a)]
	for i, x := range a {
		s += x * b[i]
	}
	return
}

// dot returns Σ a[i]·b[i] in an order fixed by len(a).
func dot(a, b []float64) float64 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(a); i += 4 {
		x := a[i : i+4 : i+4]
		y := b[i : i+4 : i+4]
		s0 += x[0] * y[0]
		s1 += x[1] * y[1]
		s2 += x[2] * y[2]
		s3 += x[3] * y[3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// solve overwrites b (input order) with the solution of L·Lᵀ·x = b.
//
// x is kept in the internal order. In the forward sweep row j of x starts
// at zero and receives the updates of the supernodes below it in
// ascending order, each as x[j] -= L(j,:)·x_d, whether they are scattered
// (by the updating supernode) or gathered (by the supernode owning the
// row); then its right-hand side is added. The parts of the schedule
// scatter into their own rows concurrently, and the supernodes of the top
// gather. The backward sweep only gathers from ancestors and stores each
// supernode's solution in b. So every sum has the same order for any
// schedule.
func (s *supernodal) solve(b []float64) {
	xp, _ := s.xbuf.Get().(*[]float64)
	if xp == nil {
		x := make([]float64, s.n+s.maxRows)
		xp = &x
	}
	defer s.xbuf.Put(xp)
	x, y := (*xp)[:s.n], (*xp)[s.n:]
	clear(x)
	if s.part == nil {
		for _, k := range s.top {
			s.forwardScatter(k, x, b, false)
		}
	} else {
		s.parallel(len(s.part), func(i, _ int) {
			for _, k := range s.part[i] {
				s.forwardScatter(k, x, b, true)
			}
		})
		for _, k := range s.top {
			s.forwardGather(k, x, b)
		}
	}
	for q := len(s.top) - 1; q >= 0; q-- {
		s.backward(s.top[q], x, b, y)
	}
	if s.part != nil {
		s.parallel(len(s.part), func(i, w int) {
			yw := y
			if w > 0 {
				yw = make([]float64, s.maxRows)
			}
			list := s.part[i]
			for q := len(list) - 1; q >= 0; q-- {
				s.backward(list[q], x, b, yw)
			}
		})
	}
}

// forwardScatter solves with the diagonal block of supernode k and
// subtracts its updates from the rows below: all of them, or with inPart
// only the leading ones in its own part of the schedule.
func (s *supernodal) forwardScatter(k int, x, b []float64, inPart bool) {
	d := &s.sd[k]
	f, nc := int(d.f), int(d.nc)
	nb := int(d.nr) - nc
	if inPart {
		nb = int(s.scat[k])
	}
	rs := s.rows[d.r0+nc : d.r0+nc+nb]
	L := s.lx[d.x0 : d.x0+int(d.nr)*nc]
	if nc == 1 {
		x0 := (b[s.perm[f]] + x[f]) * s.dinv[f]
		x[f] = x0
		Lb := L[1 : 1+len(rs)]
		for q, i := range rs {
			x[i] -= Lb[q] * x0
		}
		return
	}
	xs := x[f : f+nc]
	s.addRHS(xs, f, b)
	s.solveLead(L, nc, xs, s.dinv[f:f+nc])
	Lb := L[nc*nc:]
	q := 0
	for ; q+4 <= len(rs); q += 4 {
		i := rs[q : q+4 : q+4]
		s0, s1, s2, s3 := dot4x1(Lb[q*nc:(q+1)*nc], Lb[(q+1)*nc:(q+2)*nc], Lb[(q+2)*nc:(q+3)*nc], Lb[(q+3)*nc:(q+4)*nc], xs)
		x[i[0]] -= s0
		x[i[1]] -= s1
		x[i[2]] -= s2
		x[i[3]] -= s3
	}
	for ; q < len(rs); q++ {
		x[rs[q]] -= dot1(Lb[q*nc:q*nc+nc], xs)
	}
}

// solveLead solves with the leading (lower triangular) nc×nc block L of a
// supernode in place of xs; dinv holds the reciprocals of its diagonal.
// Column by column: the updates of one column are independent of each
// other.
func (s *supernodal) solveLead(L []float64, nc int, xs, dinv []float64) {
	dinv = dinv[:len(xs)]
	for c := range xs {
		xc := xs[c] * dinv[c]
		xs[c] = xc
		for r := c + 1; r < nc; r++ {
			xs[r] -= L[r*nc+c] * xc
		}
	}
}

// forwardGather applies the updates of supernode k's descendants to its
// rows of x, in ascending order, and solves with its diagonal block.
func (s *supernodal) forwardGather(k int, x, b []float64) {
	f := s.first[k]
	nc := s.first[k+1] - f
	for _, u := range s.upd[s.uptr[k]:s.uptr[k+1]] {
		fd := u.fd
		dnc := int(u.dnc)
		drs := s.rows[u.rows+int(u.lo) : u.rows+int(u.hi)]
		LD := s.lx[u.x+int(u.lo)*dnc : u.x+int(u.hi)*dnc]
		if dnc == 1 {
			xd := x[fd]
			LD = LD[:len(drs)]
			for q, i := range drs {
				x[i] -= LD[q] * xd
			}
			continue
		}
		xd := x[fd : fd+dnc]
		q := 0
		for ; q+4 <= len(drs); q += 4 {
			i := drs[q : q+4 : q+4]
			s0, s1, s2, s3 := dot4x1(LD[q*dnc:(q+1)*dnc], LD[(q+1)*dnc:(q+2)*dnc], LD[(q+2)*dnc:(q+3)*dnc], LD[(q+3)*dnc:(q+4)*dnc], xd)
			x[i[0]] -= s0
			x[i[1]] -= s1
			x[i[2]] -= s2
			x[i[3]] -= s3
		}
		for ; q < len(drs); q++ {
			x[drs[q]] -= dot1(LD[q*dnc:q*dnc+dnc], xd)
		}
	}
	L := s.lx[s.xptr[k]:s.xptr[k+1]]
	s.addRHS(x[f:f+nc], f, b)
	s.solveLead(L, nc, x[f:f+nc], s.dinv[f:f+nc])
}

// addRHS adds the right-hand side to xs, the rows of the columns from f.
func (s *supernodal) addRHS(xs []float64, f int, b []float64) {
	for c, i := range s.perm[f : f+len(xs)] {
		xs[c] = b[i] + xs[c]
	}
}

// storeSolution writes xs, the solution for the columns from f, to b.
func (s *supernodal) storeSolution(xs []float64, f int, b []float64) {
	for c, i := range s.perm[f : f+len(xs)] {
		b[i] = xs[c]
	}
}

// backward subtracts the contributions of supernode k's rows below its
// columns and solves with the transposed diagonal block.
func (s *supernodal) backward(k int, x, b, y []float64) {
	d := &s.sd[k]
	f, nc := int(d.f), int(d.nc)
	rs := s.rows[d.r0+nc : d.r0+int(d.nr)]
	L := s.lx[d.x0 : d.x0+int(d.nr)*nc]
	if nc == 1 {
		// Two sums (even and odd rows) to halve the dependency chain.
		Lb := L[1:]
		Lb = Lb[:len(rs)]
		var a0, a1 float64
		q := 0
		for ; q+2 <= len(rs); q += 2 {
			i := rs[q : q+2 : q+2]
			a0 += Lb[q] * x[i[0]]
			a1 += Lb[q+1] * x[i[1]]
		}
		if q < len(rs) {
			a0 += Lb[q] * x[rs[q]]
		}
		x[f] = (x[f] - (a0 + a1)) * s.dinv[f]
		b[s.perm[f]] = x[f]
		return
	}
	xs := x[f : f+nc]
	Lb := L[nc*nc:]
	y = y[:len(rs)]
	for q, i := range rs {
		y[q] = x[i]
	}
	// xs -= Lbᵀ·y, four columns at a time with the sums in registers.
	c := 0
	for ; c+4 <= nc; c += 4 {
		var a0, a1, a2, a3 float64
		for q, yq := range y {
			row := Lb[q*nc+c : q*nc+c+4 : q*nc+c+4]
			a0 += row[0] * yq
			a1 += row[1] * yq
			a2 += row[2] * yq
			a3 += row[3] * yq
		}
		xs[c] -= a0
		xs[c+1] -= a1
		xs[c+2] -= a2
		xs[c+3] -= a3
	}
	for ; c < nc; c++ {
		var a0, a1 float64
		q := 0
		for ; q+2 <= len(y); q += 2 {
			a0 += Lb[q*nc+c] * y[q]
			a1 += Lb[(q+1)*nc+c] * y[q+1]
		}
		if q < len(y) {
			a0 += Lb[q*nc+c] * y[q]
		}
		xs[c] -= a0 + a1
	}
	dinv := s.dinv[f : f+nc]
	for c := nc - 1; c >= 0; c-- {
		xc := xs[c] * dinv[c]
		xs[c] = xc
		row := L[c*nc : c*nc+c]
		for q, v := range row {
			xs[q] -= v * xc
		}
	}
	s.storeSolution(xs, f, b)
}
