# syntax=docker/dockerfile:1
# vldm CPU worker: the orchestration queue (workflows) and the media queue (ffmpeg encoding and
# stitching, pack checks). onnxruntime-node's CPU binaries ship inside the npm package.
#
#   docker build -f infra/docker/worker-cpu.Dockerfile -t <registry>/vldm-worker-cpu:<version> .
#
# Base images are pinned by tag. Before pushing to production also pin the digest you checked
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
RUN apt-get update \
  && apt-get install -y --no-install-recommends ffmpeg \
  && rm -rf /var/lib/apt/lists/* \
  && groupadd --gid 10001 vldm \
  && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /tmp --shell /usr/sbin/nologin vldm \
  && install -d -o 10001 -g 10001 /var/lib/vldm
WORKDIR /opt/vldm
COPY --from=prod-deps /src/node_modules node_modules
COPY --from=build /src/dist/src dist/src
COPY --from=build /src/dist/workflows dist/workflows
COPY --from=build /src/dist/activities dist/activities
COPY package.json ./
COPY bin bin
COPY models models
COPY infra/docker/probe.sh infra/docker/probe.sh
ENV NODE_ENV=production \
    HOME=/tmp \
    VLDM_STATE_DIR=/var/lib/vldm \
    VLDM_PACK=/opt/vldm/models/reference
USER 10001:10001
ENTRYPOINT ["node", "/opt/vldm/bin/vldm.js"]
CMD ["worker", "--queues", "orchestration,media"]
