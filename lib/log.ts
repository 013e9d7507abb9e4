/**
 * The leveled logger, writing one line per record to stderr (stdout is for command output): text
 * (`time LEVEL [name] message {extras}`) or JSON through pino (log.format). Either way a record
 * logged while a span is active carries its trace_id and span_id, so a log line leads to its trace.
 */
import { writeSync } from 'node:fs';
import { context, trace } from '@opentelemetry/api';
import { redactSecrets } from '../config/index.ts';
import { pino, type DestinationStream, type Logger as Pino } from 'pino';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFormat = 'text' | 'json';
const rank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, extra?: object): void;
  info(msg: string, extra?: object): void;
  warn(msg: string, extra?: object): void;
  error(msg: string, extra?: object): void;
  child(name: string): Logger;
}

/** The `log` section of the configuration. */
export interface LogOptions {
  readonly level: LogLevel;
  readonly format?: LogFormat;
}

type Write = (line: string) => void;
const stderr: Write = (l) => process.stderr.write(`${l}\n`);

/** trace_id and span_id of the active span; undefined when none (or no SDK) runs. */
export function activeTraceIds(): { trace_id: string; span_id: string } | undefined {
  const sc = trace.getSpan(context.active())?.spanContext();
  if (sc === undefined || !trace.isSpanContextValid(sc)) return undefined;
  return { trace_id: sc.traceId, span_id: sc.spanId };
}

/**
 * A logger that drops records below the level; `write` (one line, no newline) defaults to stderr.
 * `options` is a level, or the configuration's log section (`createLogger(config.log)`).
 */
export function createLogger(
  options: LogLevel | LogOptions,
  name = 'fanout',
  write: Write = stderr,
): Logger {
  const { level, format = 'text' } = typeof options === 'string' ? { level: options } : options;
  return format === 'json' ? jsonLogger(level, name, write) : textLogger(level, name, write);
}

function textLogger(level: LogLevel, name: string, write: Write): Logger {
  const at =
    (lvl: LogLevel) =>
    (msg: string, extra?: object): void => {
      if (rank[lvl] < rank[level]) return;
      const ids = activeTraceIds();
      const traceTail = ids ? ` trace_id=${ids.trace_id} span_id=${ids.span_id}` : '';
      const tail =
        extra && Object.keys(extra).length > 0
          ? ` ${JSON.stringify(extra, (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}`
          : '';
      // Secrets never reach a log, whatever a message or a driver error carried (config/secrets.ts).
      write(
        redactSecrets(
          `${new Date().toISOString()} ${lvl.toUpperCase().padEnd(5)} [${name}] ${msg}${tail}${traceTail}`,
        ),
      );
    };
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (n) => textLogger(level, `${name}.${n}`, write),
  };
}

function jsonLogger(level: LogLevel, name: string, write: Write): Logger {
  // Synchronous writes: a line logged just before a fatal exit must not be lost in a buffer.
  const out: Write = write === stderr ? (l) => writeSync(2, `${l}\n`) : write;
  // Every line passes the secret filter before it leaves (config/secrets.ts).
  const stream: DestinationStream = {
    write: (line: string) => out(redactSecrets(line.endsWith('\n') ? line.slice(0, -1) : line)),
  };
  const make = (n: string): Pino =>
    pino(
      {
        name: n,
        level,
        base: { pid: process.pid },
        timestamp: pino.stdTimeFunctions.isoTime,
        formatters: { level: (label) => ({ level: label }) },
        mixin: () => activeTraceIds() ?? {},
      },
      stream,
    );
  const wrap = (n: string): Logger => {
    const p = make(n);
    const at =
      (lvl: LogLevel) =>
      (msg: string, extra?: object): void => {
        if (extra === undefined) p[lvl](msg);
        else p[lvl](extra, msg);
      };
    return {
      debug: at('debug'),
      info: at('info'),
      warn: at('warn'),
      error: at('error'),
      child: (c) => wrap(`${n}.${c}`),
    };
  };
  return wrap(name);
}
