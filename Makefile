# Everything a fresh machine needs beyond Go and make is installed here, at pinned versions, into .tools/bin.
SHELL := /bin/bash
ROOT  := $(abspath .)
TOOLS := $(ROOT)/.tools/bin
# Our module proxy is a filtered mirror; direct fetches cannot reach anything and only slow failures down.
export GOPROXY ?= https://proxy.golang.org
export GOFLAGS ?= -buildvcs=false

OCB_VERSION      := v0.162.0
MDATAGEN_VERSION := v0.159.0
OCB      := $(TOOLS)/builder
MDATAGEN := $(TOOLS)/mdatagen
GOLANGCI_LINT_VERSION := v2.6.2
GOLANGCI_LINT := $(TOOLS)/golangci-lint
RECEIVER := receiver/stackonereceiver

.PHONY: all tools generate vet lint test test-unit fuzz bench clean

all: test

$(OCB):
	GOBIN=$(TOOLS) go install go.opentelemetry.io/collector/cmd/builder@$(OCB_VERSION)

# mdatagen cannot be `go install`ed here (its go.mod has replaces); the tools module pins it instead.
$(MDATAGEN): internal/tools/go.mod internal/tools/go.sum
	cd internal/tools && go build -o $(MDATAGEN) go.opentelemetry.io/collector/cmd/mdatagen

$(GOLANGCI_LINT):
	GOBIN=$(TOOLS) go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)

tools: $(OCB) $(MDATAGEN) $(GOLANGCI_LINT)

## generate: regenerate internal/metadata and documentation.md from metadata.yaml
generate: $(MDATAGEN)
	cd $(RECEIVER) && $(MDATAGEN) metadata.yaml

vet:
	go vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }

lint: $(GOLANGCI_LINT)
	$(GOLANGCI_LINT) run ./...

test-unit:
	go test -race -count=1 ./...

## fuzz: a short run of the page-decoder fuzz target
fuzz:
	go test -run '^$$' -fuzz FuzzDecodePage -fuzztime 10s ./$(RECEIVER)/internal/stackoneapi/

## test: everything CI runs
test: vet test-unit fuzz test-contract test-e2e

## bench: decode and map one 100-entry page
bench:
	go test -run '^$$' -bench . -benchmem ./$(RECEIVER)/...

clean:
	rm -rf _build .tools

# The distribution, the demo and the end-to-end test (mk/dist.mk); the SDK contract test (mk/contract.mk).
include mk/*.mk
