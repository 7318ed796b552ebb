# syntax=docker/dockerfile:1
#
# otelcol-stackone container image.
#
#   make docker-build        (docker build -t ghcr.io/stackone-otel/otelcol-stackone:0.1.0 .)
#   make image               (buildah, no daemon: linux/amd64 and linux/arm64 from binaries Go cross-compiled on
#                             the host, as one manifest list; see mk/image.mk)
#   docker run --rm -e STACKONE_API_KEY=... -e OTEL_EXPORTER_OTLP_ENDPOINT=https://otlp.example.com:4318 \
#     -v otelcol-stackone-data:/var/lib/otelcol-stackone ghcr.io/stackone-otel/otelcol-stackone:0.1.0
#
# The volume keeps the receiver's position and the exporter's persistent queue (file_storage): without it a
# new container re-reads initial_lookback and drops whatever was still queued.
#
# Build arguments (the defaults give the published image; `make image` and the container test set them):
#   RUNTIME_BASE  the runtime stage's base. It must provide CA certificates and run the binary as 65532 (the
#                 distroless `nonroot` user); the container test uses a local scratch image with exactly that,
#                 because registries cannot always be reached where the tests run.
#   BINARY_STAGE  where the binary comes from: `build` compiles it in the golang stage below; `prebuilt` copies
#                 BINARY from the build context (a static linux binary for the target platform), so a binary
#                 built once on the host, or cross-compiled for another platform, goes in as it is.
#   BINARY        the prebuilt binary's path in the build context (.dockerignore lets _build/image/ through).
#   VERSION       the org.opencontainers.image.version label: the distribution's version.

ARG GO_VERSION=1.26
ARG RUNTIME_BASE=gcr.io/distroless/static-debian12:nonroot
ARG BINARY_STAGE=build

FROM golang:${GO_VERSION} AS build
# Static binary for the distroless/static runtime.
ENV CGO_ENABLED=0 \
    GOFLAGS=-buildvcs=false
WORKDIR /src
# Dependencies first, so source edits do not invalidate the module download layer.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# `make build` installs the pinned ocb (.tools/bin/builder-<version>) and builds _build/otelcol-stackone from
# builder-config.yaml. /out is what the runtime stage takes: the binary and the (empty) state directory.
RUN --mount=type=cache,target=/root/.cache/go-build \
    make build \
 && ./_build/otelcol-stackone --version \
 && mkdir -p /out/var/lib/otelcol-stackone \
 && cp _build/otelcol-stackone /out/otelcol-stackone

# The same /out from a binary built outside the image. --chmod: a copied binary may have lost its mode bits.
FROM scratch AS prebuilt
ARG TARGETOS
ARG TARGETARCH
ARG BINARY=_build/image/${TARGETOS}-${TARGETARCH}/otelcol-stackone
COPY --chmod=0755 ${BINARY} /out/otelcol-stackone
# A scratch stage has no mkdir: WORKDIR creates the empty state directory.
WORKDIR /out/var/lib/otelcol-stackone

# Only the stage named here is built (BuildKit and buildah skip unused stages), so a `prebuilt` build never
# pulls golang.
FROM ${BINARY_STAGE} AS binary

FROM ${RUNTIME_BASE}
ARG VERSION=0.1.0
# licenses: the repository declares no license, so the label makes no assertion; set it when one is chosen.
LABEL org.opencontainers.image.title="otelcol-stackone" \
      org.opencontainers.image.description="OpenTelemetry Collector distribution with the StackOne logs receiver" \
      org.opencontainers.image.source="https://github.com/stackone-otel/otelcol-stackone" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="NOASSERTION"
COPY --from=binary /out/otelcol-stackone /otelcol-stackone
COPY config.example.yaml /etc/otelcol-stackone/config.yaml
# Owned by the image's non-root user (65532), so a fresh named volume is writable.
COPY --from=binary --chown=65532:65532 /out/var/lib/otelcol-stackone /var/lib/otelcol-stackone
ENV STACKONE_STORAGE_DIR=/var/lib/otelcol-stackone
USER 65532:65532
VOLUME /var/lib/otelcol-stackone
# 13133: health_check; 8888: the collector's own metrics (Prometheus); 8090: the stackone receiver's webhook
# endpoint, when config.yaml enables it.
EXPOSE 13133 8888 8090
ENTRYPOINT ["/otelcol-stackone"]
CMD ["--config=/etc/otelcol-stackone/config.yaml"]
