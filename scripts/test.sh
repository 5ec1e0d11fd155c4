#!/usr/bin/env bash
# The one test command (README, .ci/run): installs what is missing, type-checks, runs every test.
# Idempotent. Daemon-backed suites start their daemons through scripts/services.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
node -e 'const [a]=process.versions.node.split(".");if(+a<20){console.error("occitan needs Node.js >= 20 (Debian 12 ships 18): "+process.version);process.exit(1)}'
bash scripts/install-deps.sh
npx tsc -p tsconfig.json --noEmit
bash scripts/services.sh start docker
bash scripts/services.sh start libvirt
bash scripts/services.sh start kernel
bash scripts/services.sh start ovs
npx jest --ci "$@"
