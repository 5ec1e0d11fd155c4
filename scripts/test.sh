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
if [ "$#" -gt 0 ]; then
  exec npx jest --ci "$@"
fi
# Most suites wait on daemons and child processes, not on the CPU: two workers nearly halve the wall time
# on 2 vCPU. Each suite uses instance labels, pools and bridges of its own, so they can run side by side.
npx jest --ci --maxWorkers=2 --testPathIgnorePatterns '/test/reliability/daemon-outage-inband\.test\.ts$'
# This one stops the host's libvirtd and ovsdb-server for a few seconds: alone, after everything else.
npx jest --ci --runInBand test/reliability/daemon-outage-inband.test.ts
