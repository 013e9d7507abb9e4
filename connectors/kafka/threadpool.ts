/**
 * Sizes libuv's thread pool for a Kafka process. The librdkafka binding runs its blocking calls
 * there (a consume that waits for records, begin/commit of a transaction,
 * sendOffsetsToTransaction, watermark queries), next to fs and dns work. The default of 4
 * threads is too few for a worker: two consumers hold a thread each while they wait for records,
 * two transactional producers commit, the CDC connector reads segment files. Measured on the
 * 500k benchmark: a checkpoint commit queued 3.6 s behind them while paging waited for it.
 *
 * Imported FIRST by every entry point: the pool is created on its first use with the size in
 * the environment at that moment, so it has to be set before any module does async I/O.
 */
const THREADS = 16;

process.env.UV_THREADPOOL_SIZE ??= String(THREADS);
