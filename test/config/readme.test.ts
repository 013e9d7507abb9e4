import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { schema } from '../../config/schema.ts';
import { PAGE, withTable } from '../../scripts/config-table.ts';

/** Every leaf key of the schema (a node with a `doc` is a setting). */
function keys(node: Record<string, unknown>, prefix = ''): string[] {
  return Object.entries(node).flatMap(([name, child]) => {
    const key = prefix ? `${prefix}.${name}` : name;
    return (child as { doc?: string }).doc !== undefined
      ? [key]
      : keys(child as Record<string, unknown>, key);
  });
}

describe('docs/configuration.md: the configuration table', () => {
  it('is the one generated from the schema (run: node scripts/config-table.ts --write)', () => {
    const page = readFileSync(PAGE, 'utf8');
    expect(page).toBe(withTable(page));
  });

  it('lists every key of the schema with its env var', () => {
    const page = readFileSync(PAGE, 'utf8');
    const all = keys(schema);
    expect(all.length).toBeGreaterThan(40);
    for (const key of all)
      expect(page).toMatch(new RegExp(`^\\| \`${key}\` \\| \`[A-Z_]+\` \\|`, 'm'));
  });
});
