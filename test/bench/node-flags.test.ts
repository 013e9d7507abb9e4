import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { NODE_FLAGS } from '../../bench/node-flags.ts';

// The benches start what they time with NODE_FLAGS: the flags users run the product with.
describe('the Node flags benches measure with', () => {
  it.each(['fanout', 'Dockerfile'])('are the ones %s runs the product with', (file) => {
    const text = readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8');
    expect(text).toContain(NODE_FLAGS.join(' '));
  });
});
