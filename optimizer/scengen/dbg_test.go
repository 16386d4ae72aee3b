package scengen

import (
	"context"
	"testing"
	"time"

	"github.com/gridd/gridd"
	"github.com/gridd/gridd/optimizer"
)

func TestDbgTime(t *testing.T) {
	s, _ := Generate(gridd.Files, benchParams(10000))
	t0 := time.Now()
	p, err := optimizer.Solve(context.Background(), s, optimizer.Options{})
	t.Log(time.Since(t0), err, p.Iterations, p.Objective)
}
