#!/usr/bin/env bash
# Installs what the workspace needs on a fresh machine: pnpm, the Node dependencies
# (Node 24 comes in as a dev dependency), the checkers (cfn-lint, checkov, shellcheck) and the
# machine-level tools and images (.ci/provision). Versions come from pins.json. Safe to run
# again: everything present is reused.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=lib/pins.sh
source "$ROOT/scripts/lib/pins.sh"

if ! command -v pnpm >/dev/null 2>&1 || [ "$(pnpm --version 2>/dev/null)" != "$PIN_PNPM" ]; then
  echo "[bootstrap] installing pnpm $PIN_PNPM"
  npm install --global --silent "pnpm@$PIN_PNPM" >/dev/null
fi
echo "[bootstrap] pnpm install"
pnpm install --frozen-lockfile --reporter=silent

if ! command -v cfn-lint >/dev/null 2>&1; then
  echo "[bootstrap] installing cfn-lint $PIN_CFN_LINT"
  python3 -m pip install --quiet "cfn-lint==$PIN_CFN_LINT"
fi

# checkov has many pinned dependencies: it gets a venv of its own, outside the project.
CHECKOV_VENV="${XDG_CACHE_HOME:-$HOME/.cache}/mlflow-dev/tools/checkov-$PIN_CHECKOV"
if [ ! -x "$CHECKOV_VENV/bin/checkov" ]; then
  echo "[bootstrap] installing checkov $PIN_CHECKOV"
  python3 -m venv "$CHECKOV_VENV"
  "$CHECKOV_VENV/bin/pip" install --quiet "checkov==$PIN_CHECKOV"
fi

# The shell scripts' linter that `pnpm lint` runs (scripts/shellcheck.sh).
bash "$ROOT/scripts/shellcheck.sh" --install

bash "$ROOT/.ci/provision"
