// Command optbench writes the optimizer benchmark scenarios: for each size
// the scenario `gridd scenario gen` makes with the benchmark proportions
// (one battery per 100 EV sessions, one feeder per 200, 96 steps). run.sh
// exports each as an LP with gridd plan --export-lp and hands it to gridd
// plan, cbc, HiGHS and glpsol.
//
// Usage: go run ./bench/optimizer -dir DIR [-sizes 10,100,1000,10000] [-seed 1]
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gridd/gridd"
	"github.com/gridd/gridd/optimizer/scengen"
)

func main() {
	dir := flag.String("dir", "", "output directory")
	sizes := flag.String("sizes", "10,100,1000,10000", "comma-separated EV session counts")
	seed := flag.Uint64("seed", 1, "scenario seed")
	flag.Parse()
	if err := run(*dir, *sizes, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "optbench:", err)
		os.Exit(1)
	}
}

// Params returns the benchmark size for n EV sessions: one battery per 100
// sessions and one feeder per 200 (at least one each), 96 steps of 15
// minutes.
func Params(n int, seed uint64) scengen.Params {
	return scengen.Params{Seed: seed, EVs: n, Batteries: max(1, n/100), Feeders: max(1, n/200), Steps: 96}
}

func run(dir, sizes string, seed uint64) error {
	if dir == "" {
		return fmt.Errorf("-dir is required")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, f := range strings.Split(sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return fmt.Errorf("-sizes: %q: %w", f, err)
		}
		s, err := scengen.Generate(gridd.Files, Params(n, seed))
		if err != nil {
			return err
		}
		base := filepath.Join(dir, fmt.Sprintf("ev%d", n))
		if err := write(base+".json", func(w io.Writer) error { return json.NewEncoder(w).Encode(s) }); err != nil {
			return err
		}
	}
	return nil
}

func write(path string, f func(io.Writer) error) error {
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(out)
	if err := f(bw); err != nil {
		out.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := bw.Flush(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
