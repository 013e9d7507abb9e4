import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The README is the way in: every docs page is linked from it, every relative link of the README
 * and the docs resolves (file and #heading), each page opens with its question, and no README
 * section is longer than a screen.
 */
const ROOT = resolve(import.meta.dirname, '../..');
const DOCS = join(ROOT, 'docs');
const pages = readdirSync(DOCS)
  .filter((f) => f.endsWith('.md'))
  .map((f) => join(DOCS, f));
const read = (file: string): string => readFileSync(file, 'utf8');
/** Text outside fenced code blocks. */
const prose = (md: string): string => md.replace(/^```[\s\S]*?^```/gm, '');

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens. */
export function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

export function links(md: string): string[] {
  return [...prose(md).matchAll(/\]\(([^)\s]+)\)/g)]
    .map((m) => m[1]!)
    .filter((l) => !/^[a-z]+:/.test(l));
}

const anchors = (md: string): Set<string> =>
  new Set([...prose(md).matchAll(/^#{1,6} (.+)$/gm)].map((m) => slug(m[1]!)));

describe('README and docs/', () => {
  it('the slug and link helpers read what GitHub renders', () => {
    expect(slug('Dead letters (`fanout.dead-letter`)')).toBe('dead-letters-fanoutdead-letter');
    expect(slug('Try it: the two commands')).toBe('try-it-the-two-commands');
    expect(links('[a](docs/x.md) [b](https://x.org) `[c]` (d)\n```\n[e](f.md)\n```')).toEqual([
      'docs/x.md',
    ]);
  });

  it('links every docs page from the README', () => {
    expect(pages.length).toBeGreaterThanOrEqual(8);
    const linked = new Set(links(read(join(ROOT, 'README.md'))).map((l) => l.split('#')[0]));
    const missing = pages.map((p) => relative(ROOT, p)).filter((p) => !linked.has(p));
    expect(missing).toEqual([]);
  });

  it('every relative link resolves to a file, and its #anchor to a heading there', () => {
    const broken: string[] = [];
    for (const file of [join(ROOT, 'README.md'), ...pages]) {
      for (const link of links(read(file))) {
        const [path, anchor] = link.split('#');
        const target = path ? resolve(dirname(file), path) : file;
        if (!existsSync(target)) broken.push(`${relative(ROOT, file)}: ${link}`);
        else if (anchor && target.endsWith('.md') && !anchors(read(target)).has(anchor))
          broken.push(`${relative(ROOT, file)}: ${link} (no such heading)`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('each docs page opens with the question it answers', () => {
    for (const page of pages) expect(read(page).split('\n')[0], page).toMatch(/^# .+\?$/);
  });

  it('no README section is longer than a screen (40 lines)', () => {
    const sections = read(join(ROOT, 'README.md')).split(/^(?=## )/m);
    for (const s of sections)
      expect(s.trimEnd().split('\n').length, s.split('\n')[0]).toBeLessThanOrEqual(40);
  });
});
