// Package yamltest holds helpers for tests that edit the shipped YAML files as a user would.
package yamltest

import (
	"strings"
	"testing"
)

// UncommentBlock removes the "# " of the commented-out YAML block that starts with the line "# <first>" and of
// every more deeply indented commented line after it, as a user enabling it would (config.example.yaml's
// webhook, for instance).
func UncommentBlock(t testing.TB, text, first string) string {
	t.Helper()
	lines := strings.Split(text, "\n")
	start := -1
	for i, l := range lines {
		if strings.TrimSpace(l) == "# "+first {
			start = i
			break
		}
	}
	if start < 0 {
		t.Fatalf("no commented-out block starting with %q", "# "+first)
	}
	indent := lines[start][:strings.Index(lines[start], "#")]
	lines[start] = indent + first
	for i := start + 1; i < len(lines); i++ {
		rest, ok := strings.CutPrefix(lines[i], indent+"#   ")
		if !ok {
			break
		}
		lines[i] = indent + "  " + rest
	}
	return strings.Join(lines, "\n")
}
