//go:build race

package stackonereceiver

// simDefaultSeeds is smaller under the race detector, which slows the simulation about tenfold; `make test-sim`
// runs the full count without it.
const simDefaultSeeds = 40
