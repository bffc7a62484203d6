#!/usr/bin/env bash
# Regenerates images/mlflow/requirements.txt, the hashed lock of requirements.in, for the image's
# Python (pins.json "python") on linux/amd64 (the task definitions' platform), with uv from PyPI in a cache venv.
#   bash images/mlflow/lock.sh            re-lock within the pins of requirements.in
#   bash images/mlflow/lock.sh --upgrade  also move unpinned packages to their newest versions
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../../scripts/lib/pins.sh
source "$HERE/../../scripts/lib/pins.sh"
VENV="${XDG_CACHE_HOME:-$HOME/.cache}/mlflow-dev/tools/uv-$PIN_UV"
if [[ ! -x $VENV/bin/uv ]]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet "uv==$PIN_UV"
fi
cd "$HERE"
"$VENV/bin/uv" pip compile requirements.in \
  --python-version "$PIN_PYTHON" --python-platform x86_64-manylinux_2_28 \
  --generate-hashes --custom-compile-command "bash images/mlflow/lock.sh" \
  ${1:+"$1"} -o requirements.txt
