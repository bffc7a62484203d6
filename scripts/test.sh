#!/usr/bin/env bash
# Sets up a fresh machine (see scripts/bootstrap.sh) and runs every test tier:
# unit (pure: spec, renderers, CLI, real checkers), package (the packed tarball installed with npm
# into a fresh project, run with npx on each tested Node), then integration (real Docker stack).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
bash scripts/bootstrap.sh
# shellcheck source=lib/pins.sh
source scripts/lib/pins.sh
export CHECKOV="${CHECKOV:-${XDG_CACHE_HOME:-$HOME/.cache}/mlflow-dev/tools/checkov-$PIN_CHECKOV/bin/checkov}"
export MLFLOW_DEV_IMAGES="${MLFLOW_DEV_IMAGES:-$(bash .ci/provision --print-image-overrides)}"
pnpm run typecheck
pnpm run lint
pnpm test
pnpm test:package
pnpm test:integration
