//go:build !unix

package stackonereceiver

import "time"

// processCPU is not measured on this platform; benchmarks then report cpu-ns/record as 0.
func processCPU() time.Duration { return 0 }
