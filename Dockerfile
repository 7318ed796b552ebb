# syntax=docker/dockerfile:1
#
# otelcol-stackone container image.
#
#   make docker-build        (docker build -t ghcr.io/stackone-otel/otelcol-stackone:0.1.0 .)
#   docker run --rm -e STACKONE_API_KEY=... -e OTEL_EXPORTER_OTLP_ENDPOINT=https://otlp.example.com:4318 \
#     -v otelcol-stackone-data:/var/lib/otelcol-stackone ghcr.io/stackone-otel/otelcol-stackone:0.1.0
#
# The volume keeps the receiver's position and the exporter's persistent queue (file_storage): without it a
# new container re-reads initial_lookback and drops whatever was still queued.

ARG GO_VERSION=1.26

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
# builder-config.yaml.
RUN --mount=type=cache,target=/root/.cache/go-build \
    make build \
 && ./_build/otelcol-stackone --version \
 && mkdir -p /out/var/lib/otelcol-stackone

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /src/_build/otelcol-stackone /otelcol-stackone
COPY config.example.yaml /etc/otelcol-stackone/config.yaml
# Owned by the image's non-root user (65532), so a fresh named volume is writable.
COPY --from=build --chown=65532:65532 /out/var/lib/otelcol-stackone /var/lib/otelcol-stackone
ENV STACKONE_STORAGE_DIR=/var/lib/otelcol-stackone
USER 65532:65532
VOLUME /var/lib/otelcol-stackone
# 13133: health_check; 8888: the collector's own metrics (Prometheus); 8090: the stackone receiver's webhook
# endpoint, when config.yaml enables it.
EXPOSE 13133 8888 8090
ENTRYPOINT ["/otelcol-stackone"]
CMD ["--config=/etc/otelcol-stackone/config.yaml"]
