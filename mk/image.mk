# The container image without a Docker daemon: buildah builds the Dockerfile's runtime stage from binaries built
# on the host, podman runs it. Included by the root Makefile, which defines ROOT; DIST_BIN, IMAGE and IMAGE_TAG
# come from mk/dist.mk.
#
# buildah, podman and runc are Debian's packages: `container-tools` installs them when they are missing and this
# machine can (root with apt-get), as mk/metrics.mk does for Prometheus; otherwise the container test skips and
# says so.

.PHONY: container-tools test-container

# `make test` runs it too.
test: test-container

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
##   demo's records, SIGTERM and a second container resuming (e2e/container)
test-container: $(DIST_BIN) container-tools
	OTELCOL_STACKONE_BIN=$(DIST_BIN) go test -count=1 -v -timeout 10m ./e2e/container/
