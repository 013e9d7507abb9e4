#!/usr/bin/env bash
# The cluster tests in one command: starts the local 3-node cluster (./fanout services up
# --nodes 3; a no-op when it runs), runs the vitest project `cluster`, and stops the cluster on
# exit, whatever happened (FANOUT_CLUSTER_KEEP=1 leaves it running for another run).
#   scripts/cluster-tests.sh [vitest args]     e.g. -t 'Kafka broker'
# Sizes: FANOUT_CLUSTER_TWEETS, FANOUT_CLUSTER_FOLLOWERS; FANOUT_CLUSTER_DEDUPE=off runs every
# test without the claims (each must then fail).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
stop() { [ "${FANOUT_CLUSTER_KEEP:-}" = 1 ] || ./fanout services down --nodes 3; }
trap stop EXIT
./fanout services up --nodes 3
FANOUT_CLUSTER=1 npx vitest run --project cluster "$@"
