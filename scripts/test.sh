#!/usr/bin/env bash
# Sets up a fresh machine (see scripts/bootstrap.sh) and runs every test tier:
# unit (pure: spec, renderers, CLI, real checkers), package (the packed tarball installed with npm
# into a fresh project, run with npx on each tested Node) and integration (real Docker stack and
# the AWS emulator), the last two in lanes side by side (scripts/integration-lanes.ts), with the
# unit tier beside them (its output printed when it ends). The CLI is packed once, here, for both.
# Each step's duration, and each lane's, close the run.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

durations=()
current=
lanes=$(mktemp)
# At the end, passed or not: how long each step took, then each integration lane.
report() {
  local status=$?
  echo
  if ((status == 0)); then echo "scripts/test.sh: every tier passed"; else echo "scripts/test.sh: failed in step $current"; fi
  if ((${#durations[@]} > 0)); then printf '%s\n' "${durations[@]}"; fi
  cat "$lanes"
  rm -f "$lanes"
}
trap report EXIT
# Runs a step and records how long it took.
# Runs a step and returns its status: also where the caller tests it (`step ... || code=$?`), where
# `set -e` does not stop inside the function.
step() {
  local name=$1 started=$SECONDS code=0
  shift
  current=$name
  "$@" || code=$?
  durations+=("$(printf '  %-22s %5d s' "$name" $((SECONDS - started)))")
  return "$code"
}

step bootstrap bash scripts/bootstrap.sh
# shellcheck source=lib/pins.sh
source scripts/lib/pins.sh
export CHECKOV="${CHECKOV:-${XDG_CACHE_HOME:-$HOME/.cache}/mlflow-dev/tools/checkov-$PIN_CHECKOV/bin/checkov}"
export MLFLOW_DEV_IMAGES="${MLFLOW_DEV_IMAGES:-$(bash .ci/provision --print-image-overrides)}"
step typecheck pnpm run typecheck
step lint pnpm run lint
pack() {
  local out
  out=$(pnpm -s pack:cli)
  echo "$out"
  MLFLOW_DEV_TEST_TARBALL=$(sed -n 's/^packed //p' <<<"$out")
  [[ -f $MLFLOW_DEV_TEST_TARBALL ]] || {
    echo "test.sh: pnpm pack:cli reported no tarball" >&2
    return 1
  }
  export MLFLOW_DEV_TEST_TARBALL
}
step pack pack
# The unit tier needs neither Docker nor the emulator and the lanes mostly wait on containers: it
# runs beside them (niced, so it takes the CPU the lanes leave), its output kept in a file and
# printed when it ends.
unit_log=$(mktemp)
unit_end=$(mktemp)
unit_started=$SECONDS
(
  code=0
  # At a lower CPU priority: the lanes are the run's critical path, the unit tier ends long before.
  nice -n 5 pnpm test >"$unit_log" 2>&1 || code=$?
  echo "$code $SECONDS" >"$unit_end"
) &
unit_pid=$!
unit_done() {
  local code ended
  wait "$unit_pid" || true
  read -r code ended <"$unit_end" || { code=1 ended=$SECONDS; }
  cat "$unit_log"
  rm -f "$unit_log" "$unit_end"
  durations+=("$(printf '  %-22s %5d s (beside the lanes)' unit $((ended - unit_started)))")
  return "$code"
}
# The package tier runs in the local lane after its integration files: it needs no Docker.
integration_code=0
step "package + integration" pnpm test:integration --with-package --summary "$lanes" || integration_code=$?
unit_code=0
unit_done || unit_code=$?
if ((integration_code != 0)); then
  current="package + integration"
  (exit "$integration_code")
fi
current=unit
(exit "$unit_code")
