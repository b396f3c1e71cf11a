#!/usr/bin/env bash
# Long fuzzing run: every property of test/hardening/fuzz.spec.ts (the codec
# and the rendezvous point's stream handler) for 100 000 cases each, 500 000
# in all; about two minutes on one core. FUZZ_RUNS overrides the number of
# cases per property, FUZZ_SEED replays a run from the seed it printed.
#
#   scripts/fuzz-long.sh
#   FUZZ_RUNS=1000000 scripts/fuzz-long.sh
#   FUZZ_SEED=-1431972380 scripts/fuzz-long.sh
set -euo pipefail

cd "$(dirname "$0")/.."

export FUZZ_RUNS="${FUZZ_RUNS:-100000}"
echo "fuzz-long: ${FUZZ_RUNS} cases per property${FUZZ_SEED:+, seed ${FUZZ_SEED}}" >&2

exec npx aegir test -t node -f test/hardening/fuzz.spec.ts "$@"
