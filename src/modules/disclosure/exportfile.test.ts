import { describe, expect, it } from 'vitest';
import { placeCanaries, toCsv, toJson } from './exportfile.js';

function seq(values: number[]): () => number {
  let i = 0;
  return () => values[i++ % values.length]!;
}

describe('export file', () => {
  it('places every canary once and keeps the subjects in order', () => {
    const subjects = ['a', 'b', 'c', 'd'];
    const out = placeCanaries(subjects, ['x', 'y'], seq([0.99, 0]));
    expect(out).toEqual(['y', 'a', 'b', 'c', 'd', 'x']);
    expect(out.filter((s) => subjects.includes(s))).toEqual(subjects);
  });

  it('spreads canaries over every position', () => {
    const seen = new Set<number>();
    let s = 1;
    const random = () => {
      s = (s * 48271) % 2147483647;
      return s / 2147483647;
    };
    for (let i = 0; i < 500; i++) seen.add(placeCanaries(['a', 'b', 'c', 'd'], ['x'], random).indexOf('x'));
    expect([...seen].sort()).toEqual([0, 1, 2, 3, 4]);
  });

  it('writes RFC 4180 CSV with the ref column first', () => {
    const csv = toCsv(
      ['name', 'company'],
      [
        { ref: 'r1', values: { name: '李明', company: 'Acme, Ltd "East"' } },
        { ref: 'r2', values: { name: '王芳' } },
      ],
    );
    expect(csv).toBe('ref,name,company\r\nr1,李明,"Acme, Ltd ""East"""\r\nr2,王芳,\r\n');
  });

  it('writes JSON with the disclosure metadata', () => {
    const doc = JSON.parse(
      toJson(
        {
          disclosure: 'dsc_1',
          recipient: 'rcp_1',
          purpose: 'partner_referral',
          fields: ['name'],
          createdAt: 't',
        },
        [{ ref: 'r1', values: { name: 'x', other: 'not asked for' } }],
      ),
    );
    expect(doc.records).toEqual([{ ref: 'r1', name: 'x' }]);
    expect(doc.disclosure).toBe('dsc_1');
  });
});
