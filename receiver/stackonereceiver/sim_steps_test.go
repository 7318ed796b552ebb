package stackonereceiver

import (
	"slices"
	"testing"
	"time"
)

// The seeds run action_steps alone, beside action_logs and beside a cursor stream, among the default seeds and
// the 2,000 of `make test-sim`; and no seed draws a stream twice.
func TestSimulationSeedsRunActionSteps(t *testing.T) {
	count := func(seeds uint64) map[string]int {
		shapes := map[string]int{}
		for seed := uint64(1); seed <= seeds; seed++ {
			s := newSimSched(seed, time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
			sc := drawScenario(seed, s)
			for i, name := range sc.streams {
				if slices.Contains(sc.streams[i+1:], name) {
					t.Fatalf("seed %d draws %s twice: %v", seed, name, sc.streams)
				}
			}
			if !slices.Contains(sc.streams, "action_steps") {
				continue
			}
			switch {
			case len(sc.streams) == 1:
				shapes["alone"]++
			case slices.Contains(sc.streams, "action_logs"):
				shapes["beside action_logs"]++
			default:
				shapes["beside a cursor stream"]++
			}
		}
		return shapes
	}
	for _, seeds := range []uint64{simDefaultSeeds, 2000} {
		shapes := count(seeds)
		t.Logf("%d seeds: action_steps %v", seeds, shapes)
		for _, shape := range []string{"alone", "beside action_logs", "beside a cursor stream"} {
			if shapes[shape] == 0 {
				t.Errorf("none of %d seeds runs action_steps %s", seeds, shape)
			}
		}
	}
}
