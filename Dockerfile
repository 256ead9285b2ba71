# syntax=docker/dockerfile:1
#
# The media server as a container: a static binary on a distroless base,
# running as a non-root user, data in the /data volume.
#
#   docker build -t mediaserver --build-arg VERSION="$(git describe --always --dirty)" .
#   docker run -d --name mediaserver -p 8080:8080 -v mediaserver-data:/data \
#     -e MEDIASERVER_XMPP_COMPONENT_JID=media.example.com \
#     -e MEDIASERVER_XMPP_COMPONENT_SECRET=... \
#     -e MEDIASERVER_XMPP_SERVER_ADDR=xmpp.internal:5347 \
#     -e MEDIASERVER_HTTP_PUBLIC_URL=https://media.example.com \
#     mediaserver
#
# Or mount a configuration file and name it:
#   docker run ... -v ./mediaserver.yaml:/etc/mediaserver/mediaserver.yaml:ro \
#     mediaserver serve --config /etc/mediaserver/mediaserver.yaml
# (environment variables still override the file). See docs/operations.md.

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG VERSION=devel
# CGO_ENABLED=0: every dependency is pure Go (SQLite included), so the
# binary runs on an image with no C library. -tags nodynamic: the HEIC/AVIF
# decoders would look for a system libheif/libavif, which this image has
# not; without that path each process starts about 12 MB smaller
# (docs/previews.md).
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -tags nodynamic -trimpath -ldflags="-s -w -X main.version=${VERSION}" \
      -o /out/mediaserver ./cmd/mediaserver \
 && /out/mediaserver version \
 && mkdir -p /out/data

# distroless/static: CA certificates (for S3 over HTTPS), /etc/passwd with
# the nonroot user (65532), tzdata; no shell, no package manager.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/mediaserver /usr/local/bin/mediaserver
COPY --from=build --chown=65532:65532 /out/data /data
COPY configs/mediaserver.yaml /etc/mediaserver/mediaserver.example.yaml
WORKDIR /data
# Inside a container the API must listen on all interfaces; the metrics
# listener stays off unless MEDIASERVER_METRICS_LISTEN is set (e.g.
# 0.0.0.0:9464, published only to the monitoring network).
ENV MEDIASERVER_HTTP_LISTEN=0.0.0.0:8080 \
    MEDIASERVER_STORAGE_DISK_ROOT=/data/media \
    MEDIASERVER_METADATA_DSN=/data/media.db
USER 65532:65532
VOLUME ["/data"]
EXPOSE 8080
# Liveness only (/healthz): an XMPP outage makes /readyz fail, which is a
# reason to route traffic elsewhere, not to restart the container. The
# check reads the same environment, so it finds a changed http.listen; with
# a mounted file whose http.listen differs, set MEDIASERVER_HTTP_LISTEN too.
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
  CMD ["/usr/local/bin/mediaserver", "healthcheck"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/mediaserver"]
CMD ["serve"]
