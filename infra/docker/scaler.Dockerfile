# syntax=docker/dockerfile:1
# vldm scaler: `vldm scaler run`, the control loop that sets each worker pool's replica count. It runs
# no models and no ffmpeg; onnxruntime-node stays (a dependency of the package) with its CPU binaries.
#
#   docker build -f infra/docker/scaler.Dockerfile -t <registry>/vldm-scaler:<version> .
#
# The base image is pinned by tag. Before pushing to production also pin the digest you checked
# (docs/deploy.md, "Build and push the images"). infra/images.sh builds the same file without Docker,
# on a base it makes from Debian's archive and the npm registry's Node (NODE_IMAGE=localhost/...):
#   NODE_IMAGE=node:24.22.3-bookworm-slim@sha256:<digest>
ARG NODE_IMAGE=node:24.22.3-bookworm-slim

# --- build: compile the TypeScript (tsconfig includes test/, so it is copied too) -----------------
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# onnxruntime-node's CPU binaries ship inside the package; its install script would fetch CUDA ones.
# npm's cache lives in a build cache mount: reused by the next build, never in a layer.
RUN --mount=type=cache,target=/root/.npm ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src src
COPY workflows workflows
COPY activities activities
COPY test test
RUN npm run build

# --- prod-deps: runtime packages only ----------------------------------------------------------------
FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /src
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm ONNXRUNTIME_NODE_INSTALL=skip npm ci --omit=dev --no-audit --no-fund

# --- runtime -----------------------------------------------------------------------------------------
FROM ${NODE_IMAGE}
RUN groupadd --gid 10001 vldm \
  && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /tmp --shell /usr/sbin/nologin vldm
WORKDIR /opt/vldm
COPY --from=prod-deps /src/node_modules node_modules
COPY --from=build /src/dist/src dist/src
COPY --from=build /src/dist/workflows dist/workflows
COPY --from=build /src/dist/activities dist/activities
COPY package.json ./
COPY bin bin
COPY infra/docker/probe.sh infra/docker/probe.sh
ENV NODE_ENV=production \
    HOME=/tmp
USER 10001:10001
ENTRYPOINT ["node", "/opt/vldm/bin/vldm.js"]
CMD ["scaler", "run", "--pools", "/etc/vldm/scaler/pools.json"]
