import { describe, expect, it } from 'vitest';
import { generateCustomers } from '../../src/modules/sim/index.js';
import { loadCatalog } from '../../src/modules/vault/index.js';

// The synthetic organisation is only useful if the vault accepts it: every generated value must
// pass the same validation a real import applies (an empty cell is an absent value, not an error).
describe('generated customers pass the vault field catalog', () => {
  it('20,000 customers, every field', () => {
    const catalog = loadCatalog();
    const ctx = { today: '20261123' };
    const problems: string[] = [];
    for (const c of generateCustomers({ seed: 'catalog-check', count: 20_000 })) {
      for (const name of catalog.names) {
        const v = (c as unknown as Record<string, string>)[name];
        if (v === undefined || v === '') continue;
        const r = catalog.field(name)!.check(v, ctx);
        if (typeof r !== 'string') problems.push(`${c.external_id}.${name}: ${JSON.stringify(r)}`);
      }
    }
    expect(problems.slice(0, 5)).toEqual([]);
  });
});
