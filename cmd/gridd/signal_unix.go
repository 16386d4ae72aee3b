//go:build unix

package main

import (
	"os"
	"os/signal"
	"syscall"
)

// coordinateNowSignal delivers SIGUSR1: `kill -USR1 PID` makes a running `gridd
// coordinate` coordinate at once (after a site rejoined, say) instead of waiting for
// the end of coordination.cycle. stop stops the delivery.
func coordinateNowSignal() (now <-chan os.Signal, stop func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGUSR1)
	return ch, func() { signal.Stop(ch) }
}
