import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { README, withTable } from '../../scripts/config-table.ts';

describe('README configuration table', () => {
  it('lists every knob of the schema as it is (run: node scripts/config-table.ts --write)', () => {
    const readme = readFileSync(README, 'utf8');
    expect(readme).toBe(withTable(readme));
  });
});
