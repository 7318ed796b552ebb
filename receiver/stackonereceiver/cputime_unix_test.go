//go:build unix

package stackonereceiver

import (
	"syscall"
	"time"
)

// processCPU is the CPU time this process has used (user + system, every thread, GC included). Benchmarks report
// it beside wall time because on a shared machine wall time also counts the time other processes held the CPU.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
