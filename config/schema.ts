/**
 * The one configuration schema: every knob of the product, with its doc, default and env var.
 * Values come from (lowest to highest) defaults, a JSON file (`--config` / FANOUT_CONFIG), env
 * vars, then `--set key=value` on the command line. `compile.ts` turns the validated result into
 * the frozen object the rest of the code receives.
 */
import { localCdcRawDir } from './home.ts';
import {
  bool,
  cqlIdentifier,
  decimal,
  hostPorts,
  identifiers,
  integer,
  oneOf,
  replication,
  text,
  topicName,
} from './formats.ts';

const list = (doc: string, def: string[], env: string) => ({
  doc,
  format: hostPorts,
  default: def,
  env,
});

export const schema = {
  kafka: {
    brokers: list(
      'Kafka bootstrap servers, host:port, comma-separated.',
      ['127.0.0.1:9092'],
      'KAFKA_BROKERS',
    ),
    clientId: {
      doc: 'Client id prefix sent to Kafka.',
      format: text(true),
      default: 'fanout',
      env: 'FANOUT_KAFKA_CLIENT_ID',
    },
    securityProtocol: {
      doc: 'Kafka security.protocol.',
      format: oneOf(['plaintext', 'ssl', 'sasl_plaintext', 'sasl_ssl']),
      default: 'plaintext',
      env: 'FANOUT_KAFKA_SECURITY_PROTOCOL',
    },
    saslMechanism: {
      doc: 'SASL mechanism when the protocol is sasl_*.',
      format: oneOf(['plain', 'scram-sha-256', 'scram-sha-512']),
      default: 'plain',
      env: 'FANOUT_KAFKA_SASL_MECHANISM',
    },
    saslUsername: {
      doc: 'SASL user name.',
      format: text(false),
      default: '',
      env: 'FANOUT_KAFKA_SASL_USERNAME',
    },
    saslPassword: {
      doc: 'SASL password (never printed; also FANOUT_KAFKA_SASL_PASSWORD_FILE, a file holding it).',
      format: text(false),
      default: '',
      env: 'FANOUT_KAFKA_SASL_PASSWORD',
      sensitive: true,
    },
    sslCaLocation: {
      doc: 'Path of a CA bundle for ssl / sasl_ssl; empty = system CAs.',
      format: text(false),
      default: '',
      env: 'FANOUT_KAFKA_SSL_CA_LOCATION',
    },
    sslCertificateLocation: {
      doc: 'Path of the client certificate (PEM) for mutual TLS with ssl / sasl_ssl; empty = none. Needs kafka.sslKeyLocation.',
      format: text(false),
      default: '',
      env: 'FANOUT_KAFKA_SSL_CERTIFICATE_LOCATION',
    },
    sslKeyLocation: {
      doc: 'Path of the private key (PEM) of kafka.sslCertificateLocation.',
      format: text(false),
      default: '',
      env: 'FANOUT_KAFKA_SSL_KEY_LOCATION',
    },
    sslKeyPassword: {
      doc: 'Passphrase of kafka.sslKeyLocation when it is encrypted (never printed; also FANOUT_KAFKA_SSL_KEY_PASSWORD_FILE).',
      format: text(false),
      default: '',
      env: 'FANOUT_KAFKA_SSL_KEY_PASSWORD',
      sensitive: true,
    },
    sslVerifyHostname: {
      doc: "Check that the broker certificate names the host connected to (librdkafka's ssl.endpoint.identification.algorithm=https). Turn off only for certificates without the right names.",
      format: bool,
      default: true,
      env: 'FANOUT_KAFKA_SSL_VERIFY_HOSTNAME',
    },
    connectTimeoutMs: {
      doc: 'How long a Kafka client waits for the cluster before it reports it unreachable.',
      format: integer(100, 600_000),
      default: 10_000,
      env: 'FANOUT_KAFKA_CONNECT_TIMEOUT_MS',
    },
    transactionTimeoutMs: {
      doc: 'transaction.timeout.ms of the transactional producers.',
      format: integer(1_000, 900_000),
      default: 60_000,
      env: 'FANOUT_KAFKA_TRANSACTION_TIMEOUT_MS',
    },
    replicationFactor: {
      doc: 'Replication factor of the topics the product creates. With 3 or more they are created with min.insync.replicas a majority of it (2 of 3): a lost broker loses no acknowledged write. Below 3 the broker default stands.',
      format: integer(1, 10),
      default: 1,
      env: 'FANOUT_KAFKA_REPLICATION_FACTOR',
    },
  },
  cassandra: {
    contactPoints: list(
      'Cassandra contact points, host:port, comma-separated.',
      ['127.0.0.1:9042'],
      'CASSANDRA_CONTACT_POINTS',
    ),
    localDataCenter: {
      doc: 'The data center this process is in (the driver routes to it).',
      format: text(true),
      default: 'datacenter1',
      env: 'FANOUT_CASSANDRA_LOCAL_DC',
    },
    username: {
      doc: 'Cassandra user; empty = no authentication.',
      format: text(false),
      default: '',
      env: 'FANOUT_CASSANDRA_USERNAME',
    },
    password: {
      doc: 'Cassandra password (never printed; also FANOUT_CASSANDRA_PASSWORD_FILE, a file holding it).',
      format: text(false),
      default: '',
      env: 'FANOUT_CASSANDRA_PASSWORD',
      sensitive: true,
    },
    tls: {
      doc: 'Encrypt client connections with TLS (the node needs client_encryption_options enabled).',
      format: bool,
      default: false,
      env: 'FANOUT_CASSANDRA_TLS',
    },
    tlsCaFile: {
      doc: 'Path of a CA bundle (PEM) that signed the node certificates; empty = system CAs.',
      format: text(false),
      default: '',
      env: 'FANOUT_CASSANDRA_TLS_CA_FILE',
    },
    tlsCertFile: {
      doc: 'Path of a client certificate (PEM), for nodes that require client certificates; empty = none. Needs cassandra.tlsKeyFile.',
      format: text(false),
      default: '',
      env: 'FANOUT_CASSANDRA_TLS_CERT_FILE',
    },
    tlsKeyFile: {
      doc: 'Path of the private key (PEM) of cassandra.tlsCertFile.',
      format: text(false),
      default: '',
      env: 'FANOUT_CASSANDRA_TLS_KEY_FILE',
    },
    tlsVerifyHostname: {
      doc: 'Check that each node certificate names the address connected to. Turn off only for certificates without the right names.',
      format: bool,
      default: true,
      env: 'FANOUT_CASSANDRA_TLS_VERIFY_HOSTNAME',
    },
    keyspace: {
      doc: 'Keyspace of the data contract (tweets, followers, timelines).',
      format: cqlIdentifier,
      default: 'fanout',
      env: 'FANOUT_CASSANDRA_KEYSPACE',
    },
    replication: {
      doc: 'Keyspace replication: SimpleStrategy:<rf> or NetworkTopologyStrategy:<dc>=<rf>,...',
      format: replication,
      default: 'SimpleStrategy:1',
      env: 'FANOUT_CASSANDRA_REPLICATION',
    },
    writeConsistency: {
      doc: 'Consistency level of timeline writes.',
      format: oneOf(['one', 'two', 'quorum', 'local_quorum', 'local_one', 'each_quorum', 'all']),
      default: 'local_quorum',
      env: 'FANOUT_CASSANDRA_WRITE_CONSISTENCY',
    },
    readConsistency: {
      doc: 'Consistency level of follower and timeline reads; at local_quorum (with follows written at local_quorum) a follow one read saw is seen by every later read, which retracting tweets deleted during their fan-out needs (README "Deletes during their insert"), and a trim or an unfollow sees every delete acknowledged before it.',
      format: oneOf(['one', 'two', 'quorum', 'local_quorum', 'local_one', 'all']),
      default: 'local_quorum',
      env: 'FANOUT_CASSANDRA_READ_CONSISTENCY',
    },
    requestTimeoutMs: {
      doc: 'Client-side timeout of one CQL request.',
      format: integer(100, 600_000),
      default: 12_000,
      env: 'FANOUT_CASSANDRA_REQUEST_TIMEOUT_MS',
    },
    connectTimeoutMs: {
      doc: 'How long to wait for the cluster before reporting it unreachable.',
      format: integer(100, 600_000),
      default: 10_000,
      env: 'FANOUT_CASSANDRA_CONNECT_TIMEOUT_MS',
    },
  },
  topics: {
    cdcPrefix: {
      doc: 'CDC topics are <cdcPrefix>.<keyspace>.<table>, one per CDC table.',
      format: topicName,
      default: 'cdc',
      env: 'FANOUT_TOPIC_CDC_PREFIX',
    },
    cdcPartitions: {
      doc: 'Partitions of each CDC topic (the unit of worker scale-out).',
      format: integer(1, 10_000),
      default: 12,
      env: 'FANOUT_TOPIC_CDC_PARTITIONS',
    },
    cdcOffsets: {
      doc: 'Compacted topic holding the CDC connector source offsets.',
      format: topicName,
      default: 'fanout.cdc-offsets',
      env: 'FANOUT_TOPIC_CDC_OFFSETS',
    },
    checkpoints: {
      doc: 'Compacted topic holding fan-out cursors of tweets and split tasks in progress, and completion tallies of split tweets.',
      format: topicName,
      default: 'fanout.checkpoints',
      env: 'FANOUT_TOPIC_CHECKPOINTS',
    },
    completed: {
      doc: 'Topic of fanout.completed events (one per delivered tweet, follow and unfollow).',
      format: topicName,
      default: 'fanout.completed',
      env: 'FANOUT_TOPIC_COMPLETED',
    },
    tasks: {
      doc: 'Work topic of page-range tasks (and task-done records) of split celebrity fan-outs, consumed by group <pipeline.groupId>.tasks.',
      format: topicName,
      default: 'fanout.tasks',
      env: 'FANOUT_TOPIC_TASKS',
    },
    tasksPartitions: {
      doc: 'Partitions of the work topic (how many workers share one big fan-out).',
      format: integer(1, 10_000),
      default: 24,
      env: 'FANOUT_TOPIC_TASKS_PARTITIONS',
    },
    deadLetter: {
      doc: 'Dead-letter topic: malformed records with their reason and original bytes.',
      format: topicName,
      default: 'fanout.dead-letter',
      env: 'FANOUT_TOPIC_DEAD_LETTER',
    },
  },
  cdc: {
    rawDir: {
      doc: "Cassandra's cdc_raw directory (read, and cleaned after commit, by the connector).",
      format: text(true),
      default: localCdcRawDir(),
      env: 'FANOUT_CDC_RAW_DIR',
    },
    nodeId: {
      doc: "Identity of the Cassandra node this connector reads (keys its source offset and transactional.id). Empty (default): the node's own host_id from system.local, which survives a restart under a new host name; set it only to pin an identity explicitly.",
      format: text(false),
      default: '',
      env: 'FANOUT_CDC_NODE_ID',
    },
    errorDir: {
      doc: 'Where a segment with a corrupt stretch or a header that does not read is moved (never deleted) once read; empty = cdc_error beside cdc.rawDir (same filesystem, so the move is a rename).',
      format: text(false),
      default: '',
      env: 'FANOUT_CDC_ERROR_DIR',
    },
    maxEventBytes: {
      doc: 'Largest change-event record the connector produces (key, value, headers). A bigger change goes out with its largest values replaced by {"omitted": true, "bytes": N} and a dead letter naming them. At most 1000000, the producer\'s own limit (librdkafka\'s message.max.bytes): a bigger record could never be produced, and its transaction would hold up every later write of the node. Keep it below the broker\'s message.max.bytes too (1048588 by default).',
      format: integer(16_384, 1_000_000),
      default: 900_000,
      env: 'FANOUT_CDC_MAX_EVENT_BYTES',
    },
    keyspaces: {
      doc: 'Keyspaces whose CDC tables are captured; empty = cassandra.keyspace only.',
      format: identifiers,
      default: [] as string[],
      env: 'FANOUT_CDC_KEYSPACES',
    },
    startFrom: {
      doc: 'Where a connector with no committed offset starts: earliest (all of cdc_raw) or latest (only new writes).',
      format: oneOf(['earliest', 'latest']),
      default: 'earliest',
      env: 'FANOUT_CDC_START_FROM',
    },
    pollIntervalMs: {
      doc: 'Poll period of cdc_raw besides fs events (bounds latency when events are missed).',
      format: integer(10, 60_000),
      default: 100,
      env: 'FANOUT_CDC_POLL_INTERVAL_MS',
    },
    maxEventsPerTransaction: {
      doc: 'Most change events in one Kafka transaction.',
      format: integer(1, 1_000_000),
      default: 5_000,
      env: 'FANOUT_CDC_MAX_EVENTS_PER_TRANSACTION',
    },
    totalSpaceMiB: {
      doc: "Override of Cassandra's cdc_total_space for the usage gauge and warning; 0 (default): read the node's own cdc_total_space and cdc_block_writes from system_views.settings.",
      format: integer(0, 10_000_000),
      default: 0,
      env: 'FANOUT_CDC_TOTAL_SPACE_MIB',
    },
    warnUsageRatio: {
      doc: "Warn when cdc_raw usage passes this share of the node's cdc_total_space.",
      format: decimal(0.05, 1),
      default: 0.8,
      env: 'FANOUT_CDC_WARN_USAGE_RATIO',
    },
  },
  pipeline: {
    groupId: {
      doc: 'Consumer group of the fan-out workers.',
      format: text(true),
      default: 'fanout-workers',
      env: 'FANOUT_GROUP_ID',
    },
    pageSize: {
      doc: 'Followers read per page of the join.',
      format: integer(1, 100_000),
      default: 5_000,
      env: 'FANOUT_PAGE_SIZE',
    },
    batchSize: {
      doc: "Timeline rows per write batch (50: one unlogged CQL batch under Cassandra's 5 KiB warning; larger ones are sent as several).",
      format: integer(1, 10_000),
      default: 50,
      env: 'FANOUT_BATCH_SIZE',
    },
    lingerMs: {
      doc: 'How long a partial batch waits for more rows before it is written, and a transaction for more finished tweets before it commits: up to twice this much delay per small tweet, for fewer requests and fewer Kafka transactions.',
      format: integer(0, 60_000),
      default: 20,
      env: 'FANOUT_LINGER_MS',
    },
    maxInFlightBatches: {
      doc: 'Most timeline write batches in flight at once, per worker. More is not faster once the node is busy: on the 2-core benchmark box 16 beat 32 (each extra request in flight costs the node CPU in contention); raise it for a cluster of several nodes.',
      format: integer(1, 4_096),
      default: 16,
      env: 'FANOUT_MAX_IN_FLIGHT_BATCHES',
    },
    maxInFlightTweets: {
      doc: 'Most tweets (and split tasks) fanned out at once per worker; the consumer pauses at this bound. Memory is bounded by the row credit, not by this: a small tweet costs a few round trips of waiting, so the everyday load needs many in flight (at 8, 8 tweets per ~40 ms of round trips capped a worker near 200 small tweets/s).',
      format: integer(1, 10_000),
      default: 256,
      env: 'FANOUT_MAX_IN_FLIGHT_TWEETS',
    },
    checkpointEvery: {
      doc: "Most batches of a tweet's rows a crash can make the pipeline redo: paging stays within this many batches of the last committed checkpoint, which is rewritten every half of it. Fewer: less rework, more Kafka transactions (and paging waits on them). 500 × 50 rows is under a second of writing to redo once per crash, against ~20 transactions per 500k fan-out instead of ~40 at 200 (each costs the broker far more than its records).",
      format: integer(1, 1_000_000),
      default: 500,
      env: 'FANOUT_CHECKPOINT_EVERY',
    },
    splitThreshold: {
      doc: 'Authors with more followers than this are split into page-range tasks on the work topic (decided exactly, by reading at most this many follower ids plus one, before the first timeline row: on the benchmark box ~3.5 µs per id).',
      format: integer(1, 1_000_000_000),
      default: 50_000,
      env: 'FANOUT_SPLIT_THRESHOLD',
    },
    splitTaskSize: {
      doc: 'Followers per page-range task of a split fan-out: exact for the ranges walked up to splitThreshold, about this many (by id density) for the rest.',
      format: integer(1, 1_000_000_000),
      default: 50_000,
      env: 'FANOUT_SPLIT_TASK_SIZE',
    },
    smallFirst: {
      doc: "Small tweets ahead of a celebrity's tasks: their follower pages are granted row credit first, with a page of it (pageSize rows on top of the credit) reserved for them, and their batches are written first (one bound of maxInFlightBatches writes for both lanes, of which a task always keeps one). Off: one first-come-first-served credit, and each lane its own maxInFlightBatches writes, as before issue #19 (a 500k fan-out then delays small tweets by minutes on a busy node).",
      format: bool,
      default: true,
      env: 'FANOUT_SMALL_FIRST',
    },
    shutdownTimeoutMs: {
      doc: 'Deadline for a graceful stop before the process exits anyway.',
      format: integer(100, 600_000),
      default: 30_000,
      env: 'FANOUT_SHUTDOWN_TIMEOUT_MS',
    },
    writeStrategy: {
      doc: 'How a batch of timeline rows is written: batch (one UNLOGGED multi-partition batch per slice of rows) or concurrent (one single-partition write per row, all in flight at once).',
      format: oneOf(['batch', 'concurrent']),
      default: 'batch',
      env: 'FANOUT_WRITE_STRATEGY',
    },
    dedupeCopies: {
      doc: "Fan out one copy of each write when several replicas' connectors send it, or a replica logs it again (a read repair): on (a lightweight-transaction claim per tweet change in fanout_claims, keyed by tweet, op and write time), off, or auto (on when cassandra.replication keeps more than one replica in all: a replication factor above 1, or replicas in several data centres).",
      format: oneOf(['auto', 'on', 'off']),
      default: 'auto',
      env: 'FANOUT_DEDUPE_COPIES',
    },
    offsetReset: {
      doc: 'What a worker does when its committed offset is out of range (the events fell out of retention): error (default: stop with OFFSET_OUT_OF_RANGE and count it; nothing is skipped silently), earliest or latest (go on from there, skipping what was lost, with a loud warning).',
      format: oneOf(['error', 'earliest', 'latest']),
      default: 'error',
      env: 'FANOUT_OFFSET_RESET',
    },
    sessionTimeoutMs: {
      doc: 'Consumer group session timeout of a worker: how long a worker that died and did not come back keeps its partitions (a restarted worker with the same --worker-id takes them over at once). Within the broker group.min/max.session.timeout.ms.',
      format: integer(6_000, 1_800_000),
      default: 30_000,
      env: 'FANOUT_SESSION_TIMEOUT_MS',
    },
  },
  graph: {
    backfillTweets: {
      doc: "Tweets a new follow backfills into the follower's timeline: the author's latest this many, read from author_tweets and written USING TIMESTAMP of the follow (0: none).",
      format: integer(0, 10_000),
      default: 20,
      env: 'FANOUT_GRAPH_BACKFILL_TWEETS',
    },
    unfollowRecent: {
      doc: "An unfollow deletes, besides the author's tweets found in the follower's timeline, the author's latest this many tweets whether found or not (USING TIMESTAMP of the unfollow; not those since moved to another author): a fan-out still under way, or a replayed backfill, cannot bring them back. At least graph.backfillTweets.",
      format: integer(0, 100_000),
      default: 100,
      env: 'FANOUT_GRAPH_UNFOLLOW_RECENT',
    },
    maxInFlight: {
      doc: 'Most follows and unfollows handled at once per worker (the graph lane has its own admission gate: a burst of follows never takes room from tweets).',
      format: integer(1, 10_000),
      default: 64,
      env: 'FANOUT_GRAPH_MAX_IN_FLIGHT',
    },
  },
  timeline: {
    maxEntries: {
      doc: 'Most rows a home timeline keeps (newest by tweet id); older ones are trimmed by a range delete, on a sample of inserts (timeline.trimEvery). A timeline may hold a few more for a while: docs/formats.md, "Capped timelines".',
      format: integer(1, 10_000_000),
      default: 800,
      env: 'FANOUT_TIMELINE_MAX_ENTRIES',
    },
    trimEvery: {
      doc: "One timeline insert in this many (chosen by a hash of user and tweet, so the same on every replay) trims that user's timeline to timeline.maxEntries: one read of at most maxEntries + 1 ids, and a range delete only when over. A full timeline holds about this many rows over the cap on average. Lower: less slack, more reads (each insert costs the node maxEntries / trimEvery rows read: at 32 a full timeline's trims cost more than its writes, docs/benchmarks.md). 0: never trim (timelines grow without a cap, and an unfollow finds the author's tweets only among the newest 2 × maxEntries + 1,000 rows of a timeline, plus the author's latest graph.unfollowRecent): a switch for measuring what trims cost (docs/benchmarks.md), not for production.",
      format: integer(0, 1_000_000),
      default: 256,
      env: 'FANOUT_TIMELINE_TRIM_EVERY',
    },
  },
  retry: {
    maxAttempts: {
      doc: 'Cap on the attempts of one retriable operation (timeline write, commit, connector pass); 0 = no cap: retry.outageBudgetMs decides. When both are set, whichever ends first fails the run.',
      format: integer(0, 1_000_000),
      default: 0,
      env: 'FANOUT_RETRY_MAX_ATTEMPTS',
    },
    outageBudgetMs: {
      doc: 'How long retriable failures (Cassandra or Kafka down, timeouts, overload) are retried, from the first failure of a streak, before the process fails loudly. The default outlasts a node or broker restart.',
      format: integer(1, 86_400_000),
      default: 300_000,
      env: 'FANOUT_RETRY_OUTAGE_BUDGET_MS',
    },
    baseDelayMs: {
      doc: 'First backoff delay; doubles per attempt, with full jitter.',
      format: integer(1, 60_000),
      default: 100,
      env: 'FANOUT_RETRY_BASE_DELAY_MS',
    },
    maxDelayMs: {
      doc: 'Cap of one backoff delay.',
      format: integer(1, 600_000),
      default: 5_000,
      env: 'FANOUT_RETRY_MAX_DELAY_MS',
    },
  },
  telemetry: {
    enabled: {
      doc: 'Export traces and metrics.',
      format: bool,
      default: true,
      env: 'FANOUT_TELEMETRY_ENABLED',
    },
    serviceName: {
      doc: 'OpenTelemetry service.name.',
      format: text(true),
      default: 'fanout',
      env: 'OTEL_SERVICE_NAME',
    },
    otlpEndpoint: {
      doc: 'OTLP/HTTP endpoint for traces (Jaeger, an OTel collector).',
      format: text(true),
      default: 'http://127.0.0.1:4318',
      env: 'FANOUT_OTLP_ENDPOINT',
    },
    jaegerUrl: {
      doc: "Jaeger's query API, where `fanout trace` looks a tweet's trace up.",
      format: text(true),
      default: 'http://127.0.0.1:16686',
      env: 'FANOUT_JAEGER_URL',
    },
    prometheusPort: {
      doc: 'Port of the Prometheus metrics endpoint; 0 = off. Each process on one host needs its own: the local Prometheus scrapes this port and the next 7.',
      format: integer(0, 65_535),
      default: 9464,
      env: 'FANOUT_PROMETHEUS_PORT',
    },
    prometheusHost: {
      doc: 'Address the Prometheus metrics endpoint listens on: 127.0.0.1 keeps it local; in a container, 0.0.0.0.',
      format: text(true),
      default: '127.0.0.1',
      env: 'FANOUT_PROMETHEUS_HOST',
    },
    traceSampleRatio: {
      doc: 'Share of root traces sampled.',
      format: decimal(0, 1),
      default: 1,
      env: 'FANOUT_TRACE_SAMPLE_RATIO',
    },
    batchSpans: {
      doc: "Spans of a fan-out's page reads and timeline batch writes (a 500k fan-out has 10,000 batches): all, none, or sampled (every telemetry.batchSpanEvery-th, plus every one slower than telemetry.slowSpanMs, failed or retried). The tweet's span carries the totals either way.",
      format: oneOf(['all', 'none', 'sampled']),
      default: 'sampled',
      env: 'FANOUT_TRACE_BATCH_SPANS',
    },
    batchSpanEvery: {
      doc: 'With telemetry.batchSpans=sampled: one page or batch span in this many (the first of each tweet included).',
      format: integer(1, 1_000_000),
      default: 100,
      env: 'FANOUT_TRACE_BATCH_SPAN_EVERY',
    },
    slowSpanMs: {
      doc: 'With telemetry.batchSpans=sampled: a page read or batch write slower than this gets a span too.',
      format: integer(0, 600_000),
      default: 500,
      env: 'FANOUT_TRACE_SLOW_SPAN_MS',
    },
    cassandraSpans: {
      doc: 'Spans of cassandra-driver queries (@opentelemetry/instrumentation-cassandra-driver), under the page or batch span that made them; queries outside any trace are not recorded.',
      format: bool,
      default: true,
      env: 'FANOUT_TRACE_CASSANDRA',
    },
  },
  log: {
    level: {
      doc: 'Log level.',
      format: oneOf(['debug', 'info', 'warn', 'error']),
      default: 'info',
      env: 'FANOUT_LOG_LEVEL',
    },
    format: {
      doc: 'Log lines: text (time, level, logger, message, JSON extras) or json (one pino object per line); both carry trace_id and span_id when a span is active.',
      format: oneOf(['text', 'json']),
      default: 'text',
      env: 'FANOUT_LOG_FORMAT',
    },
  },
};

/** Env vars that are not schema keys but that the tools read. */
export const extraEnv = ['FANOUT_HOME', 'FANOUT_CONFIG', 'FANOUT_PORT_OFFSET'] as const;

/**
 * Knobs of `./fanout test` (README, Tests). The product ignores them, and must not refuse them:
 * the suite's own processes (bench, demo, workers) inherit the environment `./fanout test` ran in.
 */
export const testEnv = [
  'FANOUT_CLUSTER',
  'FANOUT_CLUSTER_KEEP',
  'FANOUT_CLUSTER_TWEETS',
  'FANOUT_CLUSTER_FOLLOWERS',
  'FANOUT_CLUSTER_DEDUPE',
  'FANOUT_CHAOS',
  'FANOUT_CHAOS_SEED',
  'FANOUT_GRAPH_FAN',
  'FANOUT_TEST_LOG',
  'FANOUT_TEST_NO_DOCKER',
] as const;
