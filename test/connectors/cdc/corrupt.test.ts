import { describe, expect, it } from 'vitest';
import { corruptSection, segmentProblem } from '../../../connectors/cdc/corrupt.ts';
import { CdcError } from '../../../connectors/cdc/errors.ts';
import { parseSegmentHeader } from '../../../connectors/cdc/segment.ts';
import { FanoutError } from '../../../lib/errors.ts';
import { buildHeader } from './builders.ts';

const seg = {
  id: 42n,
  version: 7,
  log: '/raw/CommitLog-7-42.log',
  idx: '/raw/CommitLog-7-42_cdc.idx',
};

/** What parsing `bytes` as the header of `seg` throws. */
function headerError(bytes: Buffer): unknown {
  try {
    parseSegmentHeader(bytes, { id: seg.id, version: seg.version });
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

describe('segmentProblem', () => {
  it('reads a header still zeros again later, naming the file', () => {
    expect(segmentProblem(headerError(Buffer.alloc(64)), seg)).toEqual({
      kind: 'not-ready',
      reason: 'segment /raw/CommitLog-7-42.log: commit-log header not written yet',
    });
  });

  it('reads a vanished file again later (the next listing no longer has it)', () => {
    const enoent = Object.assign(new Error(`ENOENT: no such file, open '${seg.log}'`), {
      code: 'ENOENT',
    });
    expect(segmentProblem(enoent, seg)).toEqual({
      kind: 'gone',
      reason: 'segment /raw/CommitLog-7-42.log vanished before it was read',
    });
  });

  it('takes a header that will never read for a corrupt segment, naming the file and why', () => {
    const badCrc = buildHeader({ id: seg.id, crcWithShortParamLen: true });
    const encrypted = buildHeader({ id: seg.id, params: { encCipher: 'AES', encIV: 'x' } });
    const brotli = buildHeader({ id: seg.id, params: { compressionClass: 'Brotli' } });
    const otherId = buildHeader({ id: seg.id + 1n });
    for (const [bytes, why] of [
      [badCrc, /header crc mismatch \(stored \d+, computed \d+\)/],
      [encrypted, /encrypted/],
      [brotli, /compressor Brotli is not supported/],
      [otherId, /segment id mismatch/],
    ] as const) {
      const problem = segmentProblem(headerError(bytes), seg);
      expect(problem.kind).toBe('unreadable');
      expect(problem.reason).toMatch(why);
      expect(problem.reason).toContain(seg.log);
    }
  });

  it('stops the connector for a file version it does not know, naming the file', () => {
    const err = (() => {
      try {
        segmentProblem(headerError(buildHeader({ id: seg.id, version: 9 })), seg);
      } catch (e) {
        return e as FanoutError;
      }
      throw new Error('expected a throw');
    })();
    expect(err).toBeInstanceOf(FanoutError);
    expect(err.retriable).toBe(false);
    expect(err.code).toBe('CDC_UNSUPPORTED_VERSION');
    expect(err.message).toMatch(/^segment \/raw\/CommitLog-7-42\.log: .*version 9/);
  });

  it('passes on what is not a segment problem', () => {
    const eacces = Object.assign(new Error('EACCES'), { code: 'EACCES' });
    expect(() => segmentProblem(eacces, seg)).toThrow(eacces);
    expect(() => segmentProblem(new CdcError('bad-value', 'x'), seg)).toThrow(FanoutError);
  });
});

describe('corruptSection', () => {
  it('dead-letters an unreadable header apart from a stop in the body at the same position', () => {
    const header = corruptSection(seg, 0, 'bad header', '/err', 'header');
    const body = corruptSection(seg, 0, 'bad marker', '/err');
    expect(header.op === 'undecodable' && header.reason.message).toBe(
      'bad header (segment /raw/CommitLog-7-42.log): nothing in it can be read; the segment is kept in /err/CommitLog-7-42.log',
    );
    expect(header.eventId).not.toBe(body.eventId);
  });
});
