# The container image without a Docker daemon: buildah builds the Dockerfile's runtime stage from binaries built
# on the host, podman runs it. Included by the root Makefile, which defines ROOT; DIST_BIN, IMAGE and IMAGE_TAG
# come from mk/dist.mk.
#
# buildah, podman and runc are Debian's packages: `container-tools` installs them when they are missing and this
# machine can (root with apt-get), as mk/metrics.mk does for Prometheus; otherwise the container test skips and
# says so.

# The platforms of the published manifest list. Every binary is Go cross-compiled on the host: no emulator runs.
IMAGE_PLATFORMS ?= linux/amd64 linux/arm64
# The runtime base: the distroless image the Dockerfile names, pulled per platform; or `local`, a scratch image
# with the host's CA certificates and distroless' users (deploy/image/local-base), for machines that cannot pull.
IMAGE_BASE      ?= gcr.io/distroless/static-debian12:nonroot
IMAGE_BIN_DIR   := _build/image
LOCAL_BASE      := localhost/otelcol-stackone-local-base
CA_BUNDLE       ?= /etc/ssl/certs/ca-certificates.crt
BUILDAH         ?= buildah
HOST_PLATFORM   := $(shell go env GOOS)-$(shell go env GOARCH)
# linux/arm64 -> linux-arm64: the binary's directory and the local base's tag.
platform_dir     = $(subst /,-,$(1))
IMAGE_BINS      := $(foreach p,$(IMAGE_PLATFORMS),$(IMAGE_BIN_DIR)/$(call platform_dir,$(p))/otelcol-stackone)

.PHONY: image image-binaries image-local-base image-push container-tools test-container

## image-binaries: the distribution for every platform of IMAGE_PLATFORMS, in _build/image/<os>-<arch>/
image-binaries: $(IMAGE_BINS)

# For this machine's platform, the binary `make build` made, which every end-to-end test runs. For the others, the
# sources ocb generated for it, compiled the way ocb compiles (static, -trimpath, stripped): for this machine's
# platform the same command gives the same bytes as ocb.
$(IMAGE_BIN_DIR)/%/otelcol-stackone: $(DIST_BIN)
	mkdir -p $(@D)
	$(if $(filter $*,$(HOST_PLATFORM)),cp $(DIST_BIN) $@,\
		cd $(dir $(DIST_BIN)) && CGO_ENABLED=0 GOOS=$(word 1,$(subst -, ,$*)) GOARCH=$(word 2,$(subst -, ,$*)) \
			go build -trimpath -ldflags='-s -w' -o $(ROOT)/$@ .)

## image-local-base: the local runtime base (IMAGE_BASE=local) for every platform: deploy/image/local-base with
##   the host's CA certificates (CA_BUNDLE)
image-local-base:
	@set -e; ctx=$$(mktemp -d); trap 'rm -rf "$$ctx"' EXIT; \
	cp deploy/image/local-base/* "$$ctx"/; cp $(CA_BUNDLE) "$$ctx"/ca-certificates.crt; \
	for p in $(IMAGE_PLATFORMS); do \
		echo "$(BUILDAH) bud --platform $$p -t $(LOCAL_BASE):$${p/\//-} deploy/image/local-base (with $(CA_BUNDLE))"; \
		$(BUILDAH) bud --quiet --platform $$p -t $(LOCAL_BASE):$${p/\//-} "$$ctx"; \
	done

## image: the image $(IMAGE):$(IMAGE_TAG) for IMAGE_PLATFORMS as one manifest list in buildah's local storage,
##   labelled with the version; IMAGE_BASE=local builds it on the local base instead of pulling distroless
image: $(IMAGE_BINS) $(if $(filter local,$(IMAGE_BASE)),image-local-base)
	@# A list left by an earlier run would gain a second image per platform.
	@$(BUILDAH) manifest rm $(IMAGE):$(IMAGE_TAG) >/dev/null 2>&1 || true
	@set -e; for p in $(IMAGE_PLATFORMS); do \
		dir=$${p/\//-}; \
		if [ "$(IMAGE_BASE)" = local ]; then base=$(LOCAL_BASE):$$dir; pull=never; else base=$(IMAGE_BASE); pull=always; fi; \
		set -x; \
		$(BUILDAH) bud --platform $$p --pull=$$pull --manifest $(IMAGE):$(IMAGE_TAG) \
			--build-arg RUNTIME_BASE=$$base --build-arg BINARY_STAGE=prebuilt \
			--build-arg BINARY=$(IMAGE_BIN_DIR)/$$dir/otelcol-stackone --build-arg VERSION=$(IMAGE_TAG) .; \
		set +x; \
	done
	@echo "$(IMAGE):$(IMAGE_TAG):" $$($(BUILDAH) manifest inspect $(IMAGE):$(IMAGE_TAG) | grep -oE '"(os|architecture)": "[^"]*"' | paste -sd' ')

## image-push: push the manifest list (every platform) to $(IMAGE):$(IMAGE_TAG); log in first (buildah login)
image-push:
	$(BUILDAH) manifest push --all $(IMAGE):$(IMAGE_TAG) docker://$(IMAGE):$(IMAGE_TAG)

## container-tools: install buildah, podman and runc (Debian packages) when they are missing and apt-get can
container-tools:
	@if command -v buildah >/dev/null 2>&1 && command -v podman >/dev/null 2>&1 && command -v runc >/dev/null 2>&1; then \
		echo "container: $$(buildah --version), $$(podman --version)"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "container: installing Debian's buildah, podman and runc"; \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends buildah podman runc; } \
			|| echo "container: the install failed: the container test will skip"; \
	else \
		echo "container: buildah/podman/runc are missing and cannot be installed here (needs root and apt-get):"; \
		echo "container: the container test will skip"; \
	fi

## test-container: build the image's runtime stage on the local base with this machine's binary and run it with
##   podman: --version, the shipped config, health_check, the webhook port, the non-root user and its volume, the
##   demo's records, SIGTERM and a second container resuming (e2e/container); `make test` runs it in test-e2e-all
test-container: $(DIST_BIN) container-tools
	OTELCOL_STACKONE_BIN=$(DIST_BIN) go test -count=1 -v -timeout 10m ./e2e/container/
