#!/usr/bin/env bash
# Builds the interop peers that are not JavaScript: interop/rust (rust-libp2p
# with libp2p-rendezvous, from crates.io, pinned by Cargo.lock) and
# interop/go (github.com/waku-org/go-libp2p-rendezvous on go-libp2p, from
# the Go module proxy, pinned by go.sum). Nothing of theirs is kept in the
# repository: cargo and go fetch it into their own caches.
#
# Each binary is built into
#   ${XDG_CACHE_HOME:-~/.cache}/libp2p-rendezvous/interop/<peer>-<key>/
# where <key> hashes the peer's sources, manifest, lockfile and toolchain
# version, so a build is reused until one of them changes, and linked as
# interop/.bin/rendezvous-interop-<peer> (git-ignored), where the tests look
# for it (test/interop/peers.ts).
#
#   bash scripts/build-interop-peers.sh [rust] [go]   (both by default)
#
# RENDEZVOUS_INTEROP says what a missing toolchain (cargo; go and a C
# compiler, as the Go peer's SQLite store needs cgo) means:
#   auto (default)  the peer is not built and its tests are skipped
#   required        the script fails (CI: `npm run test:interop`)
#   off             nothing is built
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/libp2p-rendezvous/interop"
bin_dir="$repo_root/interop/.bin"
mode="${RENDEZVOUS_INTEROP:-auto}"

log () {
  echo "[build-interop-peers] $*" >&2
}

case "$mode" in
  auto|required) ;;
  off)
    log "RENDEZVOUS_INTEROP=off: not building the Rust and Go peers"
    exit 0
    ;;
  *)
    log "RENDEZVOUS_INTEROP must be auto, required or off, not '$mode'"
    exit 2
    ;;
esac

mkdir -p "$cache" "$bin_dir"
failed=0

# The peer cannot be built here: its tests are skipped, or the run fails
missing () {
  local peer="$1" what="$2"
  rm -f "$bin_dir/rendezvous-interop-$peer"

  if [ "$mode" = required ]; then
    log "$what: cannot build the $peer peer, and RENDEZVOUS_INTEROP=required"
    failed=1
  else
    log "$what: not building the $peer peer; its interop tests will be skipped"
  fi
}

# A hash of the files that make a peer (found in its folder by the find
# arguments after the first two) and of the toolchain that builds it
key_of () {
  local dir="$1" toolchain="$2"
  shift 2
  {
    (cd "$dir" && find "$@" -type f -print0 | sort -z | xargs -0 sha256sum)
    echo "$toolchain"
  } | sha256sum | cut -c1-16
}

# Links a built binary where the tests look for it, and keeps its build
# folder from being pruned
install_peer () {
  local peer="$1" binary="$2"
  touch "$(dirname "$binary")"
  ln -sfn "$binary" "$bin_dir/rendezvous-interop-$peer"
  log "$peer peer: interop/.bin/rendezvous-interop-$peer -> $binary"
}

# Builds of other keys (older sources, another worktree) unused for 30 days
prune () {
  find "$cache" -mindepth 1 -maxdepth 1 -type d \( -name 'rust-*' -o -name 'go-*' \) ! -name rust-target -mtime +30 -print0 |
    xargs -0 -r rm -rf
}

build_rust () {
  local dir="$repo_root/interop/rust"

  if ! command -v cargo > /dev/null; then
    missing rust "cargo is not on PATH"
    return
  fi

  local toolchain
  toolchain="$(rustc -vV 2>&1) $(cargo -V 2>&1)"
  local out="$cache/rust-$(key_of "$dir" "$toolchain" Cargo.toml Cargo.lock src)"
  local binary="$out/rendezvous-interop-rust"

  if [ -x "$binary" ]; then
    log "rust peer is up to date ($(rustc -V))"
  else
    log "building the rust peer with $(cargo -V) (with empty caches, crates to download, a few minutes)"
    local started=$SECONDS
    # one target folder for every key: cargo rebuilds only what changed
    CARGO_TARGET_DIR="$cache/rust-target" cargo build --release --locked --manifest-path "$dir/Cargo.toml"
    mkdir -p "$out"
    cp "$cache/rust-target/release/rendezvous-interop-rust" "$binary.tmp"
    mv "$binary.tmp" "$binary"
    log "rust peer built in $((SECONDS - started)) s"
  fi

  install_peer rust "$binary"
}

build_go () {
  local dir="$repo_root/interop/go"

  if ! command -v go > /dev/null; then
    missing go "go is not on PATH"
    return
  fi

  local cc="${CC:-cc}"
  if ! command -v "$cc" > /dev/null; then
    missing go "no C compiler ($cc) on PATH, which cgo needs for the Go point's SQLite"
    return
  fi

  local toolchain
  toolchain="$(GOTOOLCHAIN=local go version) $("$cc" --version 2>&1 | head -n 1)"
  local out="$cache/go-$(key_of "$dir" "$toolchain" . -maxdepth 1 \( -name go.mod -o -name go.sum -o -name '*.go' \))"
  local binary="$out/rendezvous-interop-go"

  if [ -x "$binary" ]; then
    log "go peer is up to date ($(GOTOOLCHAIN=local go version))"
  else
    log "building the go peer with $(GOTOOLCHAIN=local go version) and cgo (with empty caches, modules to download, a few minutes)"
    local started=$SECONDS
    mkdir -p "$out"
    # go.sum pins every module; GOTOOLCHAIN=local never fetches another go
    (cd "$dir" && CGO_ENABLED=1 GOTOOLCHAIN=local GOFLAGS='-mod=readonly -buildvcs=false' \
      go build -trimpath -o "$binary.tmp" .)
    mv "$binary.tmp" "$binary"
    log "go peer built in $((SECONDS - started)) s"
  fi

  install_peer go "$binary"
}

peers=("$@")
if [ ${#peers[@]} -eq 0 ]; then
  peers=(rust go)
fi

for peer in "${peers[@]}"; do
  case "$peer" in
    rust) build_rust ;;
    go) build_go ;;
    *)
      log "unknown peer '$peer': rust or go"
      exit 2
      ;;
  esac
done

prune
exit "$failed"
