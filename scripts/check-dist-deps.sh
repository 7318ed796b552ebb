#!/usr/bin/env bash
# Fails when the distribution (_build/go.mod, resolved by ocb from builder-config.yaml) builds a module at another
# version than the root module's packages do. Each such module, and every package above it, would then compile
# twice into Go's build cache, once for the tests and the linter and once for the distribution: with a module
# under gRPC, nearly the whole collector. Run after `make build`.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f _build/go.mod ]; then
  echo "check-dist-deps: _build/go.mod is missing: run 'make build' first" >&2
  exit 2
fi
# The modules the root module's packages and tests are built from, and the versions the distribution resolves.
root=$(go list -deps -test -f '{{with .Module}}{{if not .Main}}{{.Path}} {{.Version}}{{end}}{{end}}' ./... | sort -u)
dist=$(cd _build && go list -m -f '{{.Path}} {{.Version}}' all | sort -u)
differ=$(join <(printf '%s\n' "$root") <(printf '%s\n' "$dist") | awk '$2 != $3')
if [ -n "$differ" ]; then
  echo "check-dist-deps: the distribution builds these modules at other versions than go.mod:" >&2
  awk '{ print "  " $1 ": go.mod " $2 ", distribution " $3 }' <<<"$differ" >&2
  echo "so each compiles twice on a cold cache. Align go.mod with the distribution:" >&2
  echo "  go get $(awk '{ printf "%s%s@%s", sep, $1, $3; sep = " " }' <<<"$differ") && go mod tidy" >&2
  exit 1
fi
