#!/usr/bin/env bash
# Sets up a fresh machine (see scripts/bootstrap.sh) and starts the local stack of
# examples/basic (or the spec given with -f). Extra arguments go to `mlflow-dev up`.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
bash scripts/bootstrap.sh
export MLFLOW_DEV_IMAGES="${MLFLOW_DEV_IMAGES:-$(bash .ci/provision --print-image-overrides)}"
if [ "$#" -eq 0 ]; then set -- -f examples/basic/mlflow-dev.yaml; fi
exec pnpm --silent mlflow-dev up "$@"
