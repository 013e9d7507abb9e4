/**
 * Errors raised by the commit-log reader and mutation decoder.
 *
 * Every error says whether retrying can help (style guide, "Errors"): a segment that is still being
 * written is retriable, a wrong version or a corrupt byte is not.
 */

/** Machine-readable reason of a {@link CdcError}. */
export type CdcErrorCode =
  | 'truncated' // a read ran past the end of the bytes it was given
  | 'corrupt' // bytes that cannot be what Cassandra wrote (bad size, bad vint, bad crc)
  | 'unsupported-version' // commit-log file version other than 7 or 8
  | 'encrypted-segment' // commit-log encryption is on; we have no keys and refuse
  | 'unsupported-compression' // a compressor class we do not decode
  | 'bad-file-name' // not CommitLog-<ver>-<id>.log / _cdc.idx
  | 'id-mismatch' // header id differs from the id in the file name
  | 'header-not-ready' // header still all zeros: the file was just created
  | 'unknown-table' // TableId not in the loaded schema (schema stale, or table dropped)
  | 'unknown-column' // a column (or user-type field) not in the loaded schema (schema stale)
  | 'unsupported-type' // a CQL type we cannot frame or decode yet
  | 'bad-type' // a type string from system_schema we cannot parse
  | 'bad-value'; // a value whose bytes do not fit its CQL type

/** An error with a {@link CdcErrorCode} and whether retrying the same call later can succeed. */
export class CdcError extends Error {
  readonly code: CdcErrorCode;
  readonly retriable: boolean;

  constructor(
    code: CdcErrorCode,
    message: string,
    options?: { retriable?: boolean; cause?: unknown },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CdcError';
    this.code = code;
    this.retriable =
      options?.retriable ??
      (code === 'header-not-ready' || code === 'unknown-table' || code === 'unknown-column');
  }
}
