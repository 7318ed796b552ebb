//go:build !race

package stackonereceiver

// simDefaultSeeds is how many seeds TestSimulation runs by default.
const simDefaultSeeds = 300
