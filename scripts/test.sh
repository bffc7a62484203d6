#!/usr/bin/env bash
# Sets up a fresh machine (see scripts/bootstrap.sh) and runs every test tier:
# unit (pure: spec, renderers, CLI, real checkers), package (the packed tarball installed with npm
# into a fresh project, run with npx on each tested Node) and integration (real Docker stack and
# the AWS emulator), the last two in lanes side by side (scripts/integration-lanes.ts), with the
# typecheck, lint and the unit tier beside them (their output printed when the lanes end). The CLI
# is packed once, here, for both.
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
  # A step that failed before the checks beside the lanes were waited for: stop them.
  if [[ -n ${beside_pid:-} ]] && kill -0 "$beside_pid" 2>/dev/null; then
    pkill -TERM -P "$beside_pid" 2>/dev/null || true
    kill "$beside_pid" 2>/dev/null || true
  fi
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
# The checks that need neither Docker nor the emulator (typecheck, lint, the unit tier) run one
# after another beside the packing and the lanes, which mostly wait on containers: niced, so they
# take the CPU the lanes leave; their output is kept in a file and printed when the lanes end, with
# their durations.
beside_log=$(mktemp)
beside_steps=$(mktemp)
beside_started=$SECONDS
(
  for check in typecheck lint unit; do
    started=$SECONDS code=0
    case $check in
      typecheck) nice -n 5 pnpm run typecheck ;;
      lint) nice -n 5 pnpm run lint ;;
      unit) nice -n 5 pnpm test ;;
    esac >>"$beside_log" 2>&1 || code=$?
    echo "$check $code $((SECONDS - started)) $((SECONDS - beside_started))" >>"$beside_steps"
  done
) &
beside_pid=$!
# Prints the checks' output and durations; fails naming the first check that failed.
beside_done() {
  local check code seconds ended failed=
  wait "$beside_pid" || true
  cat "$beside_log"
  while read -r check code seconds ended; do
    durations+=("$(printf '  %-22s %5d s (beside the lanes, ended at %d s)' "$check" "$seconds" "$ended")")
    if [[ $code != 0 && -z $failed ]]; then failed=$check; fi
  done <"$beside_steps"
  if [[ $(wc -l <"$beside_steps") -lt 3 && -z $failed ]]; then failed="typecheck, lint and unit (ended early)"; fi
  rm -f "$beside_log" "$beside_steps"
  if [[ -n $failed ]]; then
    current=$failed
    return 1
  fi
}
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
# The package tier runs in the local lane after its integration files: it needs no Docker.
integration_code=0
step "package + integration" pnpm test:integration --with-package --summary "$lanes" || integration_code=$?
beside_code=0
beside_done || beside_code=$?
if ((integration_code != 0)); then
  current="package + integration"
  (exit "$integration_code")
fi
(exit "$beside_code")
