# Everything a fresh machine needs beyond Go and make is installed here, at pinned versions, into .tools/bin.
SHELL := /bin/bash
ROOT  := $(abspath .)
TOOLS := $(ROOT)/.tools/bin
# Builds need no VCS metadata, so a tarball or a copy of the tree builds like a checkout.
export GOFLAGS ?= -buildvcs=false

OCB_VERSION      := v0.165.0
MDATAGEN_VERSION := v0.161.0
GOLANGCI_LINT_VERSION := v2.6.2
# Each tool's file name carries its pinned version, so changing a pin installs the new one.
OCB      := $(TOOLS)/builder-$(OCB_VERSION)
MDATAGEN := $(TOOLS)/mdatagen-$(MDATAGEN_VERSION)
GOLANGCI_LINT := $(TOOLS)/golangci-lint-$(GOLANGCI_LINT_VERSION)
# Go sources for gofmt, found without git so `make vet` also works in an exported tree.
GO_SOURCES = $(shell find . -name '*.go' -not -path './.tools/*' -not -path './_build/*' -not -path './contract/node_modules/*')
RECEIVER := receiver/stackonereceiver

.PHONY: all tools generate vet lint test test-unit test-sim fuzz bench clean

all: test

$(OCB):
	GOBIN=$(TOOLS)/.install go install go.opentelemetry.io/collector/cmd/builder@$(OCB_VERSION)
	mv $(TOOLS)/.install/builder $@

# mdatagen cannot be `go install`ed here (its go.mod has replaces); the tools module pins it instead.
$(MDATAGEN): internal/tools/go.mod internal/tools/go.sum
	cd internal/tools && go build -o $(MDATAGEN) go.opentelemetry.io/collector/cmd/mdatagen

$(GOLANGCI_LINT):
	GOBIN=$(TOOLS)/.install go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
	mv $(TOOLS)/.install/golangci-lint $@

tools: $(OCB) $(MDATAGEN) $(GOLANGCI_LINT)

## generate: regenerate internal/metadata and documentation.md from metadata.yaml
generate: $(MDATAGEN)
	cd $(RECEIVER) && $(MDATAGEN) metadata.yaml

vet:
	go vet ./...
	@test -z "$$(gofmt -l $(GO_SOURCES))" || { echo "gofmt needed:"; gofmt -l $(GO_SOURCES); exit 1; }

lint: $(GOLANGCI_LINT)
	$(GOLANGCI_LINT) run ./...

test-unit:
	go test -race -count=1 ./...

## test-sim: the deterministic simulation of the streams, SIM_SEEDS seeds without the race detector (the race run
##   of test-unit covers 40); a failing seed prints how to replay it
SIM_SEEDS ?= 500
test-sim:
	go test -count=1 -run '^TestSimulation' ./$(RECEIVER)/ -sim.seeds=$(SIM_SEEDS)

## fuzz: a short run of each fuzz target: the page decoder and the mapper, the webhook's payload mapping
fuzz:
	go test -run '^$$' -fuzz FuzzDecodePage -fuzztime 10s ./$(RECEIVER)/
	go test -run '^$$' -fuzz FuzzWebhookDelivery -fuzztime 10s ./$(RECEIVER)/

## test: everything CI runs
test: vet lint test-unit test-sim fuzz test-contract test-e2e

## bench: every benchmark of the receiver, BENCH_COUNT separate runs; then medians per benchmark, and decode+map of
##   one 100-entry page and the encoding/json baseline as multiples of the jsontext tokenize floor of the same run
BENCH_COUNT ?= 6
bench:
	mkdir -p _build
	set -o pipefail; for i in $$(seq $(BENCH_COUNT)); do \
		go test -run '^$$' -bench . -benchmem -count 1 ./$(RECEIVER)/... || exit 1; \
	done | tee _build/bench.txt | awk -f scripts/bench-summary.awk

## clean: remove everything the Makefile, the demo and the tests create (tools, builds, state, npm packages)
clean:
	rm -rf _build .tools bin .demo-storage .stackone-storage contract/node_modules

# The distribution, the demo and the end-to-end test (mk/dist.mk); the SDK contract test (mk/contract.mk).
include mk/*.mk
