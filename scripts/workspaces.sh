#!/usr/bin/env bash
# Runs `npm run <script>` in every workspace package that has it, in the order
# their dependencies need: packages/testing, packages/store-tests, then packages/redis and
# packages/server. The library at the root is not one of them: its own
# scripts call this one after they ran at the root.
#
#   bash scripts/workspaces.sh <script> [args for the script...]
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

script="$1"
shift

workspaces=(packages/testing packages/store-tests packages/redis packages/server)

for workspace in "${workspaces[@]}"; do
  if node -e "process.exit(require('./$workspace/package.json').scripts?.['$script'] == null ? 1 : 0)"; then
    echo
    echo "== $workspace: npm run $script $*"
    npm run "$script" --workspace "$workspace" "$@"
  fi
done
