#!/usr/bin/env bash
# The one run command (README): installs dependencies if needed, compiles, and serves on 127.0.0.1:8080
# with the embedded store under ./data and every kind on its first available provider. Arguments go to
# `occitan serve` (e.g. --config occitan.yaml).
set -euo pipefail
cd "$(dirname "$0")/.."
node -e 'const [a]=process.versions.node.split(".");if(+a<20){console.error("occitan needs Node.js >= 20 (Debian 12 ships 18): "+process.version);process.exit(1)}'
bash scripts/install-deps.sh
npx tsc -p tsconfig.build.json
exec node dist/src/cli.js serve "$@"
