package optimizer

import (
	"fmt"
	"io"
)

// ExportLP writes the linear program that Solve(ctx, s, opts) solves, in
// CPLEX LP format, so that other solvers (glpsol --lp, cbc, HiGHS) can
// solve exactly the same problem. Its optimal objective equals the plan's
// objective. Names follow lp.Model.WriteLP: "x_ev.EV1.charge_40" is EV1's
// charging power at step 40, "r_node.feeder-a.balance_72" (with '-' written
// as '_') node feeder-a's balance at step 72.
func ExportLP(w io.Writer, s *Scenario, opts Options) error {
	f, err := exportModel(s, opts)
	if err != nil {
		return err
	}
	if err := f.m.WriteLP(w); err != nil {
		return fmt.Errorf("optimizer: writing LP: %w", err)
	}
	return nil
}

// ExportMPS writes the same linear program as ExportLP in free MPS format
// (glpsol --freemps, cbc, HiGHS).
func ExportMPS(w io.Writer, s *Scenario, opts Options) error {
	f, err := exportModel(s, opts)
	if err != nil {
		return err
	}
	if err := f.m.WriteMPS(w); err != nil {
		return fmt.Errorf("optimizer: writing MPS: %w", err)
	}
	return nil
}

func exportModel(s *Scenario, opts Options) (*formulation, error) {
	if s == nil {
		return nil, fmt.Errorf("optimizer: nil scenario")
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if err := opts.validate(s); err != nil {
		return nil, err
	}
	return formulate(s, opts.form()), nil
}
