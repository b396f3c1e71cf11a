#!/usr/bin/env bash
# Makes `aegir test -t browser` (playwright-test) run on a machine that cannot
# download Playwright's own browser builds:
#
# 1. installs Debian's `chromium` package when /usr/bin/chromium is missing
# 2. lays out a Playwright browsers folder whose `chromium-headless-shell`
#    executable is a symlink to /usr/bin/chromium, with the INSTALLATION_COMPLETE
#    marker Playwright checks before it would try to download anything
#
# The folder is $PLAYWRIGHT_BROWSERS_PATH, or node_modules/.cache/ms-playwright
# when that is unset (the same default .aegir.js sets). The revision in the
# folder name is read from the playwright-core that playwright-test (the
# browser runner aegir uses) resolves, so it follows dependency updates.
#
# Idempotent: safe to run before every browser test run.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

chromium_bin="${CHROMIUM_BIN:-/usr/bin/chromium}"
browsers_path="${PLAYWRIGHT_BROWSERS_PATH:-$repo_root/node_modules/.cache/ms-playwright}"
case "$browsers_path" in
  /*) ;;
  *) browsers_path="$repo_root/$browsers_path" ;;
esac

log () {
  echo "[setup-chromium] $*" >&2
}

# 1. Chromium -----------------------------------------------------------------
if [ ! -x "$chromium_bin" ]; then
  if ! command -v apt-get > /dev/null 2>&1; then
    log "$chromium_bin is missing and apt-get is not available: install Chromium by hand"
    exit 1
  fi

  sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo > /dev/null 2>&1; then
      sudo=(sudo)
    else
      log "$chromium_bin is missing and installing it needs root"
      exit 1
    fi
  fi

  log "installing Debian's chromium package"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -q
  "${sudo[@]}" apt-get install -y -q --no-install-recommends chromium
fi

if [ ! -x "$chromium_bin" ]; then
  log "$chromium_bin is still missing after installing chromium"
  exit 1
fi

# 2. The Playwright browsers folder --------------------------------------------
if [ ! -d node_modules ]; then
  log "node_modules is missing: run 'npm ci' first"
  exit 1
fi

# Resolve playwright-test the way aegir does (from aegir's own folder), then the
# playwright-core that playwright-test imports, and read its browsers.json.
# Prints "<revision> <directory prefix> <aegir dir>"; the prefix differs from the browser's
# name only when browsers.json has a revision override for this host platform.
info="$(node --input-type=module -e '
import { createRequire } from "node:module"
import { existsSync, readFileSync } from "node:fs"
import path from "node:path"

const require = createRequire(path.join(process.cwd(), "package.json"))
// aegir exports neither its package.json nor a require() entry point: look it
// up in the node_modules folders node would search
const aegirDir = require.resolve.paths("aegir")
  .map(dir => path.join(dir, "aegir"))
  .find(dir => existsSync(path.join(dir, "package.json")))
if (aegirDir == null) throw new Error("aegir is not installed: run npm ci first")
const pwTestDir = path.dirname(require.resolve("playwright-test/package.json", { paths: [aegirDir] }))
const pwCoreDir = path.dirname(require.resolve("playwright-core/package.json", { paths: [pwTestDir] }))
const browsers = JSON.parse(readFileSync(path.join(pwCoreDir, "browsers.json"), "utf8")).browsers
const shell = browsers.find(b => b.name === "chromium-headless-shell")

if (shell == null) {
  throw new Error(`no chromium-headless-shell entry in ${pwCoreDir}/browsers.json`)
}

let revision = shell.revision
let prefix = shell.name

// revisionOverrides are keyed by Playwright host platform (e.g. debian12-x64);
// ask playwright-core for it rather than re-implementing its detection
if (shell.revisionOverrides != null && Object.keys(shell.revisionOverrides).length > 0) {
  const core = createRequire(path.join(pwCoreDir, "package.json"))
  const { hostPlatform } = core("./lib/coreBundle.js").utils ?? {}
  if (hostPlatform != null && shell.revisionOverrides[hostPlatform] != null) {
    revision = shell.revisionOverrides[hostPlatform]
    prefix = `${shell.name}_${hostPlatform}_special`
  }
}

console.error(`[setup-chromium] playwright-core ${pwCoreDir}: chromium-headless-shell revision ${revision}`)
console.log(`${revision} ${prefix.replace(/-/g, "_")} ${aegirDir}`)
')"
read -r revision dir_prefix pw_test_from <<< "$info"

browser_dir="$browsers_path/$dir_prefix-$revision"
exe_dir="$browser_dir/chrome-headless-shell-linux64"
exe="$exe_dir/chrome-headless-shell"

mkdir -p "$exe_dir"
ln -sfn "$chromium_bin" "$exe"
touch "$browser_dir/INSTALLATION_COMPLETE"

# Check that this playwright-core looks for the browser exactly there, so a
# layout change in a future Playwright fails here rather than as a download
PLAYWRIGHT_BROWSERS_PATH="$browsers_path" node -e '
const path = require("node:path")
const pwTestDir = path.dirname(require.resolve("playwright-test/package.json", { paths: [process.argv[2]] }))
const { registry } = require(require.resolve("playwright-core/lib/coreBundle", { paths: [pwTestDir] }))
const expected = registry.registry.findExecutable("chromium-headless-shell").executablePath()
if (expected !== process.argv[1]) {
  console.error(`[setup-chromium] playwright-core expects the headless shell at ${expected}, not ${process.argv[1]}`)
  process.exit(1)
}
' "$exe" "$pw_test_from"

log "$exe -> $chromium_bin ($("$chromium_bin" --version 2> /dev/null || echo 'unknown version'))"
