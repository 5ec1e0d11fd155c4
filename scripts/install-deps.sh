#!/usr/bin/env bash
# Installs the npm dependencies when package.json or package-lock.json changed since the last install
# (idempotent). `npm install` rather than `npm ci`: npm 11 leaves other platforms' optional bindings
# out of a lock file written on Linux, and `npm ci` then refuses the lock as out of sync.
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=node_modules/.occitan-lock-hash
want=$(cat package.json package-lock.json | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  npm install --no-audit --no-fund --loglevel=error
  # npm may rewrite the lock file; hash what is there now.
  cat package.json package-lock.json | sha256sum | cut -d' ' -f1 > "$stamp"
fi
