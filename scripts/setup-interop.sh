#!/usr/bin/env bash
# Sets up the interop peers of the tests (test/interop) and benchmarks: builds
# the Rust and Go peers with scripts/build-interop-peers.sh (which says what a
# missing cargo or go means), then installs interop/canvas, the driver
# process of test/interop/canvas.node.ts: @canvas-js/libp2p-rendezvous on
# libp2p 2.x, with its own package.json and package-lock.json.
# RENDEZVOUS_INTEROP=off does nothing: CI's `npm test` leaves interop to
# `npm run test:interop`.
#
# canvas's rendezvous server keeps its registrations in better-sqlite3, a
# native addon. Its install script would download a prebuilt binary, which
# this machine cannot, so it is built from source with node-gyp, against the
# headers of the Node.js that runs the driver: the test process's
# `process.execPath`, which is the `node` devDependency (Node 24) when the
# tests run through npm or npx. A binary built for another Node.js major
# would not load. Those headers come from the registry package
# node-<platform>-<arch> of that exact version (only its include/ is kept, in
# a temporary folder), unless that Node.js has them beside it.
#
# Idempotent: does nothing when interop/canvas/node_modules was installed from
# the current package.json and package-lock.json for the same Node.js ABI.
# INTEROP_NODE=/path/to/node picks another Node.js; FORCE=1 reinstalls.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="$repo_root/interop/canvas"
cd "$dir"

log () {
  echo "[setup-interop] $*" >&2
}

if [ "${RENDEZVOUS_INTEROP:-auto}" = off ]; then
  log "RENDEZVOUS_INTEROP=off: not setting up the interop peers"
  exit 0
fi

bash "$repo_root/scripts/build-interop-peers.sh"

if [ ! -f package-lock.json ]; then
  log "$dir/package-lock.json is missing"
  exit 1
fi

node_bin="${INTEROP_NODE:-}"
if [ -z "$node_bin" ]; then
  if [ -x "$repo_root/node_modules/.bin/node" ]; then
    node_bin="$repo_root/node_modules/.bin/node"
  else
    node_bin="$(command -v node)"
  fi
fi

read -r node_version node_abi node_platform node_arch < <("$node_bin" -p 'process.version.slice(1) + " " + process.versions.modules + " " + process.platform + " " + process.arch')

stamp="$dir/node_modules/.interop-setup"
want="$(cat package.json package-lock.json | sha256sum | cut -d' ' -f1) abi=$node_abi $node_platform-$node_arch"

if [ "${FORCE:-}" != 1 ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  log "interop/canvas is up to date (Node.js ABI $node_abi)"
  exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# The headers node-gyp builds better-sqlite3 against
node_dir="$(cd "$(dirname "$(readlink -f "$node_bin")")/.." && pwd)"
if ! grep -qs "define NODE_MODULE_VERSION $node_abi\$" "$node_dir/include/node/node_version.h"; then
  headers_package="node-$node_platform-$node_arch@$node_version"
  log "fetching the headers of Node.js $node_version from $headers_package"
  tarball="$(cd "$work" && npm pack --silent "$headers_package" | tail -n 1)"
  tar -xzf "$work/$tarball" -C "$work" package/include
  rm -f "$work/$tarball"
  node_dir="$work/package"
fi

log "installing interop/canvas for Node.js $node_version (ABI $node_abi), building better-sqlite3 against $node_dir"
rm -rf node_modules
npm_config_nodedir="$node_dir" \
  npm_config_build_from_source=true \
  npm ci --no-audit --no-fund --loglevel=error

# the addon must load in the Node.js that runs the driver
"$node_bin" --input-type=module -e '
import Database from "better-sqlite3"
const db = new Database(":memory:")
db.prepare("SELECT 1").get()
db.close()
'

echo "$want" > "$stamp"
log "interop/canvas installed"
