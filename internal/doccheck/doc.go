// Package doccheck holds the tests that keep the user documentation true to the code, so that `go test ./...`
// fails when it drifts: every configuration key of the stackone receiver has a row in docs/configuration.md and
// every row names a key (config_test.go); every relative link and #anchor in README.md and docs/*.md resolves
// (links_test.go); config.example.yaml shows the built-in redaction lists as they are (example_test.go). It has
// no code of its own.
package doccheck
