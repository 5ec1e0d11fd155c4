#!/usr/bin/env bash
# Installs the npm dependencies when package-lock.json changed since the last install (idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=node_modules/.occitan-lock-hash
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
fi
