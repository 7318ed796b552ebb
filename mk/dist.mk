# The otelcol-stackone distribution (ocb), the demo, the end-to-end tests and the image's name (mk/image.mk builds
# it). Included by the root Makefile, which defines ROOT, TOOLS and OCB (ocb, pinned); metrics-rules comes from
# mk/metrics.mk, container-tools from mk/image.mk.

DIST_BIN     := $(ROOT)/_build/otelcol-stackone
FAKE_BIN     := $(ROOT)/bin/stackone-fake
# Everything that ends up in the binary: the manifest, the root module (the receiver lives in it) and the
# receiver's sources. `find` rather than `git ls-files`, so files not yet committed count too.
DIST_SOURCES := builder-config.yaml go.mod go.sum $(shell find receiver -type f \( -name '*.go' -o -name '*.yaml' \) -not -name '*_test.go' -not -path '*/testdata/*' 2>/dev/null)
# The published image. The Helm values and the sidecar manifest name both, and the tag is the distribution's
# version (builder-config.yaml): deploy/deploy_test.go checks all of it.
IMAGE        ?= ghcr.io/stackone-otel/otelcol-stackone
IMAGE_TAG    ?= 0.1.0

.PHONY: build run demo test-e2e test-e2e-all docker-build

## build: the collector distribution, _build/otelcol-stackone (ocb; rebuilt when the manifest or receiver change)
build: $(DIST_BIN)

$(DIST_BIN): $(DIST_SOURCES) | $(OCB)
	$(OCB) --config builder-config.yaml
	@# ocb rewrites the sources but go build may leave an up-to-date binary untouched: make its time honest.
	@touch $@

$(FAKE_BIN): $(shell find cmd/stackone-fake internal/stackonefake -name '*.go' -not -name '*_test.go' 2>/dev/null) go.mod
	go build -o $@ ./cmd/stackone-fake

## run: with STACKONE_API_KEY set, the collector on config.example.yaml (also needs OTEL_EXPORTER_OTLP_ENDPOINT;
##   state goes to STACKONE_STORAGE_DIR, default ./.stackone-storage here); without it, the demo against the fake
run: $(DIST_BIN)
	@if [ -n "$$STACKONE_API_KEY" ]; then \
		if [ -z "$$OTEL_EXPORTER_OTLP_ENDPOINT" ]; then \
			echo "run: set OTEL_EXPORTER_OTLP_ENDPOINT to your OTLP/HTTP backend, e.g. http://localhost:4318" >&2; exit 2; \
		fi; \
		export STACKONE_STORAGE_DIR="$${STACKONE_STORAGE_DIR:-$(ROOT)/.stackone-storage}"; \
		echo "STACKONE_API_KEY is set: running $(DIST_BIN) --config config.example.yaml (state in $$STACKONE_STORAGE_DIR)"; \
		exec $(DIST_BIN) --config config.example.yaml; \
	else \
		echo "STACKONE_API_KEY is not set: running the demo against the bundled fake StackOne API (scripts/demo.sh)"; \
		exec scripts/demo.sh; \
	fi

## demo: the collector on config.demo.yaml against the bundled fake API; Ctrl-C stops both
demo: $(DIST_BIN) $(FAKE_BIN)
	scripts/demo.sh

## test-e2e: builds the distribution, then runs it as a process against an in-process fake (e2e/) and
##   validates every shipped configuration with it (deploy/: config.*.yaml, Helm values, sidecar manifest)
test-e2e: $(DIST_BIN)
	OTELCOL_STACKONE_BIN=$(DIST_BIN) go test -count=1 -v -timeout 5m ./e2e/ ./deploy/

# Every package that runs the built distribution. The container test is the longest, so it is named first: go test
# starts packages in this order, GOMAXPROCS at a time, and the others run beside it.
E2E_PKGS := ./e2e/container/ ./e2e/ ./e2e/metrics/ ./deploy/

## test-e2e-all: what test-e2e, test-metrics and test-container run (with their tools and the rule checks), as one
##   go test of their packages, all against the one build of the distribution; `make test` runs this
test-e2e-all: $(DIST_BIN) metrics-rules container-tools
	@# A cold cache compiles each shared dependency once only while the distribution resolves go.mod's versions.
	scripts/check-dist-deps.sh
	OTELCOL_STACKONE_BIN=$(DIST_BIN) go test -count=1 -v -timeout 10m $(E2E_PKGS)

## docker-build: the container image for this machine's platform, built entirely in Docker (needs a Docker engine;
##   `make image` in mk/image.mk needs none)
##   docker build -t $(IMAGE):$(IMAGE_TAG) .
##   docker run --rm -e STACKONE_API_KEY=... -e OTEL_EXPORTER_OTLP_ENDPOINT=https://otlp.example:4318 \
##     -v otelcol-stackone-data:/var/lib/otelcol-stackone $(IMAGE):$(IMAGE_TAG)
docker-build:
	docker build --build-arg VERSION=$(IMAGE_TAG) -t $(IMAGE):$(IMAGE_TAG) .
