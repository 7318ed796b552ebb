// Package e2etest holds what the end-to-end tests share.
package e2etest

import (
	"os"
	"path/filepath"
	"testing"
)

// BinEnv names the built distribution the end-to-end tests run; the make targets set it.
const BinEnv = "OTELCOL_STACKONE_BIN"

// CollectorBinary returns the absolute path of the built distribution, or skips the test, saying which make
// target runs it (target) and how to run the package (pkg) by hand. Without the variable, `go test ./...`
// stays fast; a variable that names no file fails the test.
func CollectorBinary(t testing.TB, target, pkg string) string {
	t.Helper()
	bin := os.Getenv(BinEnv)
	if bin == "" {
		t.Skipf("%s is not set: this test runs the built distribution; use `make %s`, or build with `make build` and run %s=$PWD/_build/otelcol-stackone go test -count=1 -v %s", BinEnv, target, BinEnv, pkg)
	}
	abs, err := filepath.Abs(bin)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(abs); err != nil {
		t.Fatalf("%s=%s: %v (run `make build` first)", BinEnv, bin, err)
	}
	return abs
}
