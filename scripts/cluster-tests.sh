#!/usr/bin/env bash
# The cluster tests alone (`./fanout test` runs them last): the vitest project `cluster`, whose
# file starts the local 3-node cluster (`./fanout services up --nodes 3`; a no-op when it runs).
# The cluster is stopped on exit, whatever happened, even when it ran before
# (FANOUT_CLUSTER_KEEP=1 leaves it running for another run).
#   scripts/cluster-tests.sh [vitest args]     e.g. -t 'Kafka broker'
# Sizes: FANOUT_CLUSTER_TWEETS (60), FANOUT_CLUSTER_FOLLOWERS (200); 150 and 400 are the sizes of
# docs/benchmarks.md. FANOUT_CLUSTER_DEDUPE=off runs every test without the claims (each must
# then fail).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
stop() { [ "${FANOUT_CLUSTER_KEEP:-}" = 1 ] || ./fanout services down --nodes 3; }
trap stop EXIT
FANOUT_CLUSTER=1 npx vitest run --project cluster "$@"
