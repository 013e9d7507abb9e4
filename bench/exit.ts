/**
 * How a bench started by `fanout bench` ends, like every `fanout` command: a failure is one
 * sentence on stderr (the stack only with FANOUT_LOG_LEVEL=debug), exit 2 for a bad
 * configuration, else 1; SIGINT / SIGTERM become an exit, so the `exit` handlers run (the
 * approach and pipeline processes are stopped with the bench, core affinity restored) where a
 * signal's default would leave them running. Imported first by bench/fanout.ts and bench/stream.ts.
 */
import { ConfigError } from '../config/errors.ts';

/** The one line a failed bench prints. */
export function failureLine(err: unknown, debug: boolean): string {
  const message =
    err instanceof Error ? (debug ? (err.stack ?? err.message) : err.message) : String(err);
  return `fanout bench: ${message}\n`;
}

process.on('uncaughtException', (err) => {
  process.stderr.write(failureLine(err, process.env.FANOUT_LOG_LEVEL === 'debug'));
  process.exit(err instanceof ConfigError ? 2 : 1);
});
for (const [signal, code] of [
  ['SIGINT', 130],
  ['SIGTERM', 143],
] as const)
  process.once(signal, () => process.exit(code));
