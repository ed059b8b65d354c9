// Threat: CSV (formula) injection. A value planted in the vault (a company "=HYPERLINK(…)", an
// address "@SUM(…)", a phone "+1+cmd|' /C calc'!A0") reaches a recipient's export file, and the
// recipient's spreadsheet runs it as a formula or DDE call when the file is opened: data sent to
// an outside address or a command run on the recipient's machine. Every cell of a CSV export that
// starts with =, +, -, @, tab or carriage return must be written as text (a leading single quote),
// (company/address values starting with '=' are refused at the door: vault/formula.test.ts).
import { describe, expect, it } from 'vitest';
import { spreadsheetSafe, toCsv } from './exportfile.js';

describe('CSV formula escaping', () => {
  it('prefixes every trigger character with a single quote', () => {
    for (const v of ['=1+1', '+86 138', '-2', '@SUM(A1)', '\tx', '\rx', '=HYPERLINK("http://x")'])
      expect(spreadsheetSafe(v)).toBe(`'${v}`);
    for (const v of ['plain', '1=1', "'already", '', ' =x']) expect(spreadsheetSafe(v)).toBe(v);
  });

  it('escapes every cell of an export, ref and header included, and still quotes per RFC 4180', () => {
    const csv = toCsv(
      ['company', 'address', 'mobile'],
      [
        {
          ref: '-r1',
          values: { company: "=cmd|' /C calc'!A0", address: '@SUM(1,2)', mobile: '+8613800138000' },
        },
        { ref: 'r2', values: { company: 'ACME', address: '\t=1', mobile: '-1' } },
      ],
    );
    const lines = csv.split('\r\n');
    expect(lines[0]).toBe('ref,company,address,mobile');
    expect(lines[1]).toBe(`'-r1,'=cmd|' /C calc'!A0,"'@SUM(1,2)",'+8613800138000`);
    expect(lines[2]).toBe(`r2,ACME,'\t=1,'-1`);
    // No cell of any line starts with a trigger character once the quote is accounted for.
    for (const line of lines.slice(1, 3))
      for (const cell of line.split(/,(?=(?:[^"]*"[^"]*")*[^"]*$)/))
        expect(cell.replace(/^"/, '')).not.toMatch(/^[=+\-@\t\r]/);
  });
});
