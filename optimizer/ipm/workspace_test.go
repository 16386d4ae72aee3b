package ipm

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gridd/gridd/optimizer/lp"
)

// TestWorkspaceReuse solves models of different sizes one after another with
// one workspace whose slabs start full of NaN, and checks that each solution
// has the same bits as a solve with fresh memory: every vector a solve takes
// is cleared, and nothing of an earlier solve leaks into a later one.
func TestWorkspaceReuse(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	var models []*lp.Model
	for _, size := range [][2]int{{12, 6}, {60, 40}, {9, 4}, {60, 40}, {30, 20}} {
		models = append(models, randomLP(rng, size[0], size[1], 0.3))
	}
	ctx := context.Background()
	ws := new([2]workspace)
	for k := range ws {
		// More than any of the models needs, poisoned.
		for range 2 {
			for i, f := 0, ws[k].f.Take(4096); i < len(f); i++ {
				f[i] = math.NaN()
			}
			for i, v := 0, ws[k].i.Take(4096); i < len(v); i++ {
				v[i] = -7
			}
			for i, v := 0, ws[k].i4.Take(4096); i < len(v); i++ {
				v[i] = -7
			}
		}
		ws[k].reset()
	}
	for round := 0; round < 2; round++ {
		for i, m := range models {
			fresh, err := solve(ctx, m, Options{}, new([2]workspace))
			if err != nil {
				t.Fatal(err)
			}
			reused, err := solve(ctx, m, Options{}, ws)
			if err != nil {
				t.Fatal(err)
			}
			ws[0].reset()
			ws[1].reset()
			if fresh.Status != lp.Optimal {
				t.Fatalf("model %d: status %v", i, fresh.Status)
			}
			if reused.Status != fresh.Status || reused.Iterations != fresh.Iterations ||
				!slices.Equal(reused.X, fresh.X) || !slices.Equal(reused.RowDual, fresh.RowDual) ||
				math.Float64bits(reused.Objective) != math.Float64bits(fresh.Objective) {
				t.Fatalf("round %d, model %d: reused workspace gave %v in %d iterations (objective %v), fresh memory %v in %d (objective %v)",
					round, i, reused.Status, reused.Iterations, reused.Objective, fresh.Status, fresh.Iterations, fresh.Objective)
			}
		}
	}
}
