#!/usr/bin/env bash
# Checks the library as users install it: packs the root package with
# `npm pack`, installs the tarball alone into an empty project (dependencies
# from the registry), and fails unless
#
# - the install prints no install-script warning,
# - node_modules stays under 25 MB,
# - none of the server stack is in it (libp2p, @redis/client, datastore-level,
#   classic-level, prom-client),
# - `rendezvous` and `rendezvousServer` import from it in Node.js.
#
# Needs the build (dist/) and the npm registry.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
max_mb=25
forbidden=(libp2p @redis/client datastore-level classic-level prom-client)

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

log () {
  echo "[check-library-pack] $*" >&2
}

cd "$repo_root"
tarball="$(npm pack --silent --pack-destination "$work" | tail -n 1)"
log "packed $tarball ($(du -h "$work/$tarball" | cut -f1))"

mkdir "$work/app"
cd "$work/app"
echo '{ "name": "app", "version": "1.0.0", "private": true, "type": "module" }' > package.json
npm install --no-audit --no-fund --loglevel=warn "$work/$tarball" > "$work/install.log" 2>&1 || {
  cat "$work/install.log" >&2
  exit 1
}

failed=0

if grep -qi 'install-scripts\|install script' "$work/install.log"; then
  log "FAIL: the install warns about install scripts:"
  cat "$work/install.log" >&2
  failed=1
fi

size_kb="$(du -sk node_modules | cut -f1)"
packages="$(find node_modules -name package.json -not -path '*/node_modules/*/node_modules/*/node_modules/*' | wc -l)"
log "node_modules: $((size_kb / 1024)) MB, $packages package.json files"
if [ "$size_kb" -gt $((max_mb * 1024)) ]; then
  log "FAIL: node_modules is over $max_mb MB"
  failed=1
fi

for name in "${forbidden[@]}"; do
  if npm ls --all --parseable "$name" 2>/dev/null | grep -q "/node_modules/$name\$"; then
    log "FAIL: $name is installed with the library:"
    npm ls --all "$name" >&2 || true
    failed=1
  fi
done

node --input-type=module -e "
import { rendezvous, rendezvousServer } from 'libp2p-rendezvous'
if (typeof rendezvous !== 'function' || typeof rendezvousServer !== 'function') {
  throw new Error('rendezvous or rendezvousServer is not exported')
}
" || failed=1

if [ "$failed" -ne 0 ]; then
  exit 1
fi

log "ok: $((size_kb / 1024)) MB, no install scripts, none of ${forbidden[*]}"
