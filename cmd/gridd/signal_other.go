//go:build !unix

package main

import "os"

// coordinateNowSignal: no SIGUSR1 here; the cycles follow coordination.cycle only.
func coordinateNowSignal() (now <-chan os.Signal, stop func()) { return nil, func() {} }
