/**
 * Value formats for the convict schema. Each validator throws a sentence saying what is allowed
 * and what was given (the loader prefixes the key and env var), and carries `parse`, which reads
 * the value from an env var or `--set` string. Parsing never guesses: a string that is not wholly
 * a number stays a string, so the error shows what the user typed.
 */

interface SchemaItem {
  sensitive?: boolean;
}

/** A validator plus how to read the value from an env var or `--set`. */
export type Format = ((value: unknown, item?: SchemaItem) => void) & {
  parse: (raw: string) => unknown;
};

const format = (
  check: (value: unknown, item?: SchemaItem) => void,
  parse: (raw: string) => unknown,
): Format => Object.assign(check, { parse });

const shown = (value: unknown, item?: SchemaItem): string =>
  item?.sensitive === true ? '(redacted)' : JSON.stringify(value);

const parseNumber = (raw: string): unknown =>
  /^\s*-?\d+(\.\d+)?\s*$/.test(raw) ? Number(raw) : raw;
const keep = (raw: string): unknown => raw;

/** A whole number in [min, max]. */
export const integer = (min: number, max: number): Format =>
  format((value, item) => {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      throw new Error(`must be an integer from ${min} to ${max}, got ${shown(value, item)}`);
    }
  }, parseNumber);

/** A finite number in [min, max]. */
export const decimal = (min: number, max: number): Format =>
  format((value, item) => {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
      throw new Error(`must be a number from ${min} to ${max}, got ${shown(value, item)}`);
    }
  }, parseNumber);

/** One of a fixed set of strings. */
export const oneOf = (allowed: readonly string[]): Format =>
  format((value, item) => {
    if (typeof value !== 'string' || !allowed.includes(value)) {
      throw new Error(`must be one of ${allowed.join(' | ')}, got ${shown(value, item)}`);
    }
  }, keep);

/** A string; `nonEmpty` rejects blank ones. */
export const text = (nonEmpty: boolean): Format =>
  format((value, item) => {
    if (typeof value !== 'string' || (nonEmpty && value.trim() === '')) {
      throw new Error(`must be a ${nonEmpty ? 'non-empty ' : ''}string, got ${shown(value, item)}`);
    }
  }, keep);

/** true / false (also 1 / 0, yes / no in env vars). */
export const bool: Format = format(
  (value) => {
    if (typeof value !== 'boolean')
      throw new Error(`must be true or false, got ${JSON.stringify(value)}`);
  },
  (raw) =>
    ({ true: true, '1': true, yes: true, false: false, '0': false, no: false })[
      raw.trim().toLowerCase()
    ] ?? raw,
);

/** A Kafka topic name (Kafka's own rule: [a-zA-Z0-9._-], 1 to 249 chars). */
export const topicName: Format = format((value) => {
  if (typeof value !== 'string' || !/^[a-zA-Z0-9._-]{1,249}$/.test(value)) {
    throw new Error(
      `must be a Kafka topic name ([a-zA-Z0-9._-], 1 to 249 chars), got ${JSON.stringify(value)}`,
    );
  }
}, keep);

/** A CQL identifier that needs no quoting. */
export const cqlIdentifier: Format = format((value) => {
  if (typeof value !== 'string' || !/^[a-z][a-z0-9_]{0,47}$/.test(value)) {
    throw new Error(
      `must be a lower-case CQL identifier ([a-z][a-z0-9_]*, at most 48 chars), got ${JSON.stringify(value)}`,
    );
  }
}, keep);

/** A non-empty list of host:port (comma-separated in env vars and `--set`). */
export const hostPorts: Format = format(
  (value) => {
    const ok =
      Array.isArray(value) &&
      value.length > 0 &&
      value.every((v) => typeof v === 'string' && /^[^\s:,]+:\d{1,5}$/.test(v));
    if (!ok)
      throw new Error(`must be a comma-separated list of host:port, got ${JSON.stringify(value)}`);
  },
  (raw) =>
    raw
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== ''),
);

/** A list of CQL identifiers (comma-separated in env vars and `--set`); may be empty. */
export const identifiers: Format = format(
  (value) => {
    const ok =
      Array.isArray(value) &&
      value.every((v) => typeof v === 'string' && /^[a-z][a-z0-9_]{0,47}$/.test(v));
    if (!ok)
      throw new Error(
        `must be a comma-separated list of lower-case CQL identifiers, got ${JSON.stringify(value)}`,
      );
  },
  (raw) =>
    raw
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== ''),
);

/** Cassandra replication: `SimpleStrategy:<rf>` or `NetworkTopologyStrategy:<dc>=<rf>[,<dc>=<rf>…]`. */
export const replication: Format = format((value) => {
  if (typeof value !== 'string' || parseReplication(value) === undefined) {
    throw new Error(
      `must be SimpleStrategy:<rf> or NetworkTopologyStrategy:<dc>=<rf>[,<dc>=<rf>...], got ${JSON.stringify(value)}`,
    );
  }
}, keep);

/** The replication map CQL wants, or undefined when the string is malformed. */
export function parseReplication(value: string): Record<string, string | number> | undefined {
  const simple = /^SimpleStrategy:([1-9]\d?)$/.exec(value);
  if (simple) return { class: 'SimpleStrategy', replication_factor: Number(simple[1]) };
  const nts = /^NetworkTopologyStrategy:(.+)$/.exec(value);
  if (!nts?.[1]) return undefined;
  const map: Record<string, string | number> = { class: 'NetworkTopologyStrategy' };
  for (const part of nts[1].split(',')) {
    const m = /^([A-Za-z0-9_-]+)=([1-9]\d?)$/.exec(part.trim());
    if (!m?.[1] || !m[2]) return undefined;
    map[m[1]] = Number(m[2]);
  }
  return map;
}
