#!/usr/bin/env bash
# Installs what the workspace needs on a fresh machine: pnpm, the Node dependencies
# (Node 24 comes in as a dev dependency), and the machine-level tools and images
# (.ci/provision). Safe to run again: everything present is reused.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

PNPM_VERSION=10.34.9
if ! command -v pnpm >/dev/null 2>&1 || [ "$(pnpm --version 2>/dev/null)" != "$PNPM_VERSION" ]; then
  echo "[bootstrap] installing pnpm $PNPM_VERSION"
  npm install --global --silent "pnpm@$PNPM_VERSION" >/dev/null
fi
echo "[bootstrap] pnpm install"
pnpm install --frozen-lockfile --reporter=silent

if ! command -v cfn-lint >/dev/null 2>&1; then
  echo "[bootstrap] installing cfn-lint"
  python3 -m pip install --quiet "cfn-lint==1.51.0"
fi

# checkov has many pinned dependencies: it gets a venv of its own, outside the project.
CHECKOV_VERSION=3.3.30
CHECKOV_VENV="${XDG_CACHE_HOME:-$HOME/.cache}/mlflow-dev/tools/checkov-$CHECKOV_VERSION"
if [ ! -x "$CHECKOV_VENV/bin/checkov" ]; then
  echo "[bootstrap] installing checkov $CHECKOV_VERSION"
  python3 -m venv "$CHECKOV_VENV"
  "$CHECKOV_VENV/bin/pip" install --quiet "checkov==$CHECKOV_VERSION"
fi

bash "$ROOT/.ci/provision"
