# syntax=docker/dockerfile:1.7
#
# tv-ibkr-ingest, built for docker-compose.yml. Stages:
#   build      compiles the generated code, the TypeScript and the
#              descriptor set Envoy's gRPC-JSON transcoder reads
#   deps       production dependencies only
#   runtime    (default) the service, as the non-root user `node`
#   dev-certs  makes a self-signed TLS pair for Envoy on first start
# No secret is copied in: credentials come from the environment at run time
# (.dockerignore keeps .env and envoy/certs out of the build context).

ARG NODE_IMAGE=node:22-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# .npmrc sets ignore-scripts: nothing runs at install time.
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run gen \
    && npx tsc -p . \
    && npm run proto:descriptor

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM ${NODE_IMAGE} AS runtime
# For the compose healthcheck (grpc.health.v1 readiness).
ARG TARGETARCH
ARG GRPC_HEALTH_PROBE_VERSION=v0.4.37
ADD --chmod=755 \
    https://github.com/grpc-ecosystem/grpc-health-probe/releases/download/${GRPC_HEALTH_PROBE_VERSION}/grpc_health_probe-linux-${TARGETARCH} \
    /usr/local/bin/grpc_health_probe
ENV NODE_ENV=production \
    GRPC_HOST=0.0.0.0 \
    GRPC_PORT=50051 \
    HTTP_ENABLED=false
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/package.json ./package.json
# Read at run time by gRPC server reflection.
COPY --from=build /app/proto ./proto
# The descriptor for Envoy; compose's `descriptor` service copies it into
# the volume Envoy mounts. The export folder belongs to `node` so that an
# empty named volume mounted there is writable by it.
COPY --from=build /app/build/envoy/ingest.binpb ./descriptor/ingest.binpb
RUN mkdir /app/descriptor-export && chown node:node /app/descriptor-export
USER node
EXPOSE 50051
CMD ["node", "dist/src/main.js"]

FROM debian:bookworm-slim AS dev-certs
RUN apt-get update \
    && apt-get install -y --no-install-recommends openssl \
    && rm -rf /var/lib/apt/lists/*
COPY scripts/envoy-dev-certs.sh /usr/local/bin/envoy-dev-certs
ENTRYPOINT ["sh", "/usr/local/bin/envoy-dev-certs"]
CMD ["/certs"]

# `docker build .` without --target builds the service.
FROM runtime
