# syntax=docker/dockerfile:1
# vldm GPU worker: the keyframe, interpolation, decode and upscale queues, with onnxruntime-node's CUDA
# 12 execution provider. Node 24 comes from the official node image; CUDA 12 and cuDNN 9 (what the
# CUDA provider links against) from NVIDIA's runtime image. The node binary is glibc-linked and runs on
# Ubuntu 24.04 unchanged.
#
#   docker build -f infra/docker/worker-gpu.Dockerfile -t <registry>/vldm-worker-gpu:<version> .
#
# Base images are pinned by tag. Before pushing to production also pin the digests you checked
# (docs/deploy.md, "Build and push the images"):
#   NODE_IMAGE=node:24.22.3-bookworm-slim@sha256:<digest>
#   CUDA_IMAGE=nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04@sha256:<digest>
ARG NODE_IMAGE=node:24.22.3-bookworm-slim
ARG CUDA_IMAGE=nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04

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

# --- prod-deps: runtime packages, with the CUDA provider binaries onnxruntime-node downloads --------
# npm 11 runs no dependency's install script and refuses --allow-scripts in a project install, so the
# package's own postinstall (script/install, which reads ONNXRUNTIME_NODE_INSTALL) is run by name.
# ONNXRUNTIME_GPU_INSTALL=skip builds the image without the download (infra/images.sh does, where
# NuGet cannot be reached); such an image runs on the CPU provider only.
FROM ${NODE_IMAGE} AS prod-deps
ARG ONNXRUNTIME_GPU_INSTALL=cuda12
WORKDIR /src
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm \
  ONNXRUNTIME_NODE_INSTALL=skip npm ci --omit=dev --no-audit --no-fund \
  && if [ "${ONNXRUNTIME_GPU_INSTALL}" = cuda12 ]; then \
    (cd node_modules/onnxruntime-node && ONNXRUNTIME_NODE_INSTALL=cuda12 node ./script/install) \
    && ls node_modules/onnxruntime-node/bin/napi-v*/linux/x64/ | grep -q providers_cuda; \
  fi

FROM ${NODE_IMAGE} AS node

# --- runtime -----------------------------------------------------------------------------------------
FROM ${CUDA_IMAGE}
COPY --from=node /usr/local/bin/node /usr/local/bin/node
RUN groupadd --gid 10001 vldm \
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
CMD ["worker", "--queues", "keyframe,interpolation,decode,upscale"]
