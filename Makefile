# Everything a fresh machine needs beyond Go and make is installed here, at pinned versions, into .tools/bin (or
# OTELCOL_STACKONE_TOOLS).
SHELL := /bin/bash
ROOT  := $(abspath .)
# Where the tools are installed. Each file name carries its pinned version, so several clones on one machine can
# share one directory: `export OTELCOL_STACKONE_TOOLS=$HOME/.cache/otelcol-stackone/tools` and a fresh clone
# installs nothing it has already. Default: .tools/bin in this tree (`make clean` removes it).
OTELCOL_STACKONE_TOOLS ?= $(ROOT)/.tools/bin
TOOLS := $(abspath $(OTELCOL_STACKONE_TOOLS))
# Builds need no VCS metadata, so a tarball or a copy of the tree builds like a checkout. Every build is -trimpath,
# as ocb builds the distribution, so the tests, the linter and the distribution compile each dependency they share
# once into Go's build cache, not once per way of building it.
export GOFLAGS ?= -buildvcs=false -trimpath
# For the same reason every build is without cgo, as ocb builds the static distribution: cgo changes net, os/user
# and so nearly every package above them. Only the race run turns it on (the race detector needs it).
export CGO_ENABLED ?= 0

OCB_VERSION      := v0.165.0
GOLANGCI_LINT_VERSION := v2.6.2
# mdatagen is pinned by the tools module (internal/tools/go.mod), which builds it: its version is read from there.
MDATAGEN_VERSION := $(shell awk '$$1 == "go.opentelemetry.io/collector/cmd/mdatagen" { print $$2 }' internal/tools/go.mod)
# Each tool's file name carries its pinned version, so changing a pin installs the new one.
OCB      := $(TOOLS)/builder-$(OCB_VERSION)
MDATAGEN := $(TOOLS)/mdatagen-$(MDATAGEN_VERSION)
GOLANGCI_LINT := $(TOOLS)/golangci-lint-$(GOLANGCI_LINT_VERSION)
# The directories that hold Go sources, for gofmt (_build, .tools and node_modules hold none of ours).
GO_DIRS  := cmd deploy e2e internal receiver
RECEIVER := receiver/stackonereceiver
# The packages with their own goroutines, locks or servers, for the race detector: everything but e2e/ and
# deploy/, whose tests drive the built distribution as a separate process (`make test-e2e`).
RACE_PKGS := ./cmd/... ./internal/... ./receiver/...

.PHONY: all tools generate vet lint test test-after-build test-unit test-sim fuzz bench clean

all: test

# go install into a directory of its own, then one rename: clones sharing OTELCOL_STACKONE_TOOLS never see half a
# binary.
$(OCB):
	@mkdir -p $(TOOLS)
	tmp=$$(mktemp -d $(TOOLS)/.install.XXXXXX) && trap 'rm -rf "$$tmp"' EXIT && \
		GOBIN=$$tmp go install go.opentelemetry.io/collector/cmd/builder@$(OCB_VERSION) && mv $$tmp/builder $@

# mdatagen cannot be `go install`ed here (its go.mod has replaces); the tools module pins it instead.
$(MDATAGEN):
	@mkdir -p $(TOOLS)
	cd internal/tools && go build -o $@.tmp.$$$$ go.opentelemetry.io/collector/cmd/mdatagen && mv $@.tmp.$$$$ $@

$(GOLANGCI_LINT):
	@mkdir -p $(TOOLS)
	tmp=$$(mktemp -d $(TOOLS)/.install.XXXXXX) && trap 'rm -rf "$$tmp"' EXIT && \
		GOBIN=$$tmp go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION) && mv $$tmp/golangci-lint $@

## tools: install ocb, mdatagen and golangci-lint at their pinned versions (into OTELCOL_STACKONE_TOOLS if set)
tools: $(OCB) $(MDATAGEN) $(GOLANGCI_LINT)

## generate: regenerate internal/metadata and documentation.md from metadata.yaml
generate: $(MDATAGEN)
	cd $(RECEIVER) && $(MDATAGEN) metadata.yaml

## vet: go vet and gofmt on their own (`make lint`, which `make test` runs, covers both: govet and gofmt are
##   among its linters)
vet:
	go vet ./...
	@test -z "$$(gofmt -l $(GO_DIRS))" || { echo "gofmt needed:"; gofmt -l $(GO_DIRS); exit 1; }

## lint: golangci-lint (.golangci.yml): govet, staticcheck, errcheck, ineffassign, unused, and gofmt
# --allow-serial-runners: a second golangci-lint on this machine (another clone) waits for the first, which holds
# the shared cache, instead of failing.
lint: $(GOLANGCI_LINT)
	$(GOLANGCI_LINT) run --allow-serial-runners ./...

## test-unit: every package's tests under the race detector, but e2e/ and deploy/ (test-e2e runs those against the
##   built distribution); the fuzz targets run their seed inputs here, and the SDK contract tests (contract-sdk
##   installs the SDK first)
test-unit: contract-sdk
	CGO_ENABLED=1 go test -race -count=1 $(RACE_PKGS)

## test-sim: the deterministic simulation of the streams, SIM_SEEDS seeds without the race detector (the race run
##   of test-unit covers 40); a failing seed prints how to replay it
SIM_SEEDS ?= 500
test-sim:
	go test -count=1 -run '^TestSimulation' ./$(RECEIVER)/ -sim.seeds=$(SIM_SEEDS)

## fuzz: coverage-guided fuzzing, FUZZTIME (default 10s) for each fuzz target: the page decoder and the mapper,
##   the webhook's payload mapping. Not part of `make test`, whose plain test runs take each target's seed inputs
FUZZTIME ?= 10s
fuzz:
	go test -run '^$$' -fuzz FuzzDecodePage -fuzztime $(FUZZTIME) ./$(RECEIVER)/
	go test -run '^$$' -fuzz FuzzWebhookDelivery -fuzztime $(FUZZTIME) ./$(RECEIVER)/

## test: everything CI runs: lint (go vet's analyzers and gofmt among its linters); every unit test under the race
##   detector (the SDK contract tests and the fuzz seeds among them); the simulation; the end-to-end tests, the
##   metrics chain and the container test against one build of the distribution; the receiver on the previous
##   collector line
# Cold, the time goes to compiling: the race run's instrumented dependencies, and the distribution's, which the
# linter, the simulation and the end-to-end tests then reuse. So the race run, the distribution and the linter's
# install start together (each one's downloads and waits leave CPU to the others), and what reuses the distribution's
# packages starts once it is built, so no package compiles twice. Each target's output is printed whole when it ends.
test:
	$(MAKE) --no-print-directory -j4 --output-sync=target test-unit test-after-build

## bench: every benchmark of the receiver, BENCH_COUNT separate runs; then medians per benchmark, and decode+map of
##   one 100-entry page and the encoding/json baseline as multiples of the jsontext tokenize floor of the same run
BENCH_COUNT ?= 6
bench:
	mkdir -p _build
	set -o pipefail; for i in $$(seq $(BENCH_COUNT)); do \
		go test -run '^$$' -bench . -benchmem -count 1 ./$(RECEIVER)/... || exit 1; \
	done | tee _build/bench.txt | awk -f scripts/bench-summary.awk

## clean: remove everything the Makefile, the demo and the tests create (tools in .tools, builds, state, npm
##   packages; a shared OTELCOL_STACKONE_TOOLS directory is left alone)
clean:
	rm -rf _build .tools bin .demo-storage .stackone-storage contract/node_modules

# The distribution, the demo and the end-to-end tests (mk/dist.mk); the SDK contract test (mk/contract.mk); the
# metrics chain (mk/metrics.mk); the image and its test (mk/image.mk); the older collector line (mk/compat.mk);
# the end-to-end benchmark (mk/bench.mk).
include mk/*.mk

# Not for direct use: the second half of `make test`. Below the includes, because a rule's prerequisites are
# expanded where it is read and DIST_BIN comes from mk/dist.mk: above them it would be empty, and the linter, the
# simulation and the end-to-end tests would each compile the distribution's packages at once.
test-after-build: $(DIST_BIN) $(GOLANGCI_LINT)
	$(MAKE) --no-print-directory --output-sync=target lint test-sim test-compat test-e2e-all
