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

bash "$ROOT/.ci/provision"
