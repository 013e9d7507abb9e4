# The product (CDC connector + fan-out worker: `fanout run`, `fanout worker`, `fanout schema apply`)
# for docker-compose.yml. The build stage installs the same Debian packages and builds librdkafka
# (inside @confluentinc/kafka-javascript) the same way as scripts/toolchain.sh: from source,
# linked dynamically against Debian's libraries (test/services/compose.test.ts checks they agree).
ARG NODE_IMAGE=node:24-bookworm

FROM ${NODE_IMAGE} AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential python3 libssl-dev zlib1g-dev libzstd-dev libcurl4-openssl-dev libsasl2-dev liblz4-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV CKJS_LINKING=dynamic
COPY package.json package-lock.json ./
# Native addons compile against the headers of the node that runs them (the image's own).
RUN npm ci --no-audit --no-fund --omit=dev
COPY config ./config
COPY lib ./lib
COPY ports ./ports
COPY records ./records
COPY connectors ./connectors
COPY pipeline ./pipeline
COPY services ./services
COPY cli ./cli

FROM ${NODE_IMAGE}-slim AS runtime
# The shared libraries librdkafka was linked against (the runtime halves of the -dev packages).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libssl3 zlib1g libzstd1 libcurl4 libsasl2-2 liblz4-1 ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app /app
# The heap sized for the worker, not the host, as in ./fanout (docs/benchmarks.md, worker memory):
# a young generation of 2 x 16 MiB (not 2 x 64), and an old-space ceiling of 1 GiB, with which
# V8 collects at ~1.6x the live heap, not 4x.
ENV NODE_ENV=production \
    NODE_OPTIONS="--max-semi-space-size=16 --max-old-space-size=1024" \
    FANOUT_HOME=/var/lib/fanout \
    FANOUT_PROMETHEUS_HOST=0.0.0.0 \
    FANOUT_PROMETHEUS_PORT=9464
EXPOSE 9464
USER node
ENTRYPOINT ["node", "/app/cli/main.ts"]
CMD ["run"]
