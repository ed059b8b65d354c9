import { createHash } from 'node:crypto';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { cnIdCheckChar, luhnValid, usccCheckChar } from '../../lib/checkdigits.js';
import {
  type CustomerRecord,
  customerAt,
  customerCsvLine,
  customersCsv,
  generateBankCard,
  generateCompany,
  generateCustomers,
  generateUscc,
  isValidCnIdNumber,
  isValidCnMobile,
  isValidUscc,
  mobileSegments,
} from './index.js';

function sha256Of(lines: Iterable<string>): string {
  const h = createHash('sha256');
  for (const l of lines) h.update(l);
  return h.digest('hex');
}

/** An independent reading of GB 11643: check char from the shared table, date from the calendar. */
function idOk(id: string): boolean {
  if (!/^\d{17}[\dX]$/.test(id) || cnIdCheckChar(id.slice(0, 17)) !== id[17]) return false;
  const [y, m, d] = [Number(id.slice(6, 10)), Number(id.slice(10, 12)), Number(id.slice(12, 14))];
  const t = new Date(Date.UTC(y, m - 1, d));
  return t.getUTCMonth() === m - 1 && t.getUTCDate() === d && y >= 1950 && y <= 2006;
}

const N = 50_000;
const all: CustomerRecord[] = [...generateCustomers({ seed: 'test-seed', count: N })];

describe('customers: determinism', () => {
  it('the same seed gives the same CSV byte for byte; another seed differs', { timeout: 120_000 }, () => {
    const a = sha256Of(customersCsv({ seed: 'test-seed', count: N }));
    const b = sha256Of(customersCsv({ seed: 'test-seed', count: N }));
    const c = sha256Of(customersCsv({ seed: 'test-seed2', count: N }));
    expect(a).toBe(b);
    expect(c).not.toBe(a);
  });

  it('a slice equals the same part of the full stream, and two workers cover it exactly', () => {
    const slice = [...generateCustomers({ seed: 'test-seed', count: 5000, start: 20_000 })];
    expect(slice).toEqual(all.slice(20_000, 25_000));
    const w2 = customersCsv({ seed: 'test-seed', count: N - 30_000, start: 30_000, header: false });
    const joined = sha256Of(
      (function* () {
        yield* customersCsv({ seed: 'test-seed', count: 30_000 });
        yield* w2;
      })(),
    );
    expect(joined).toBe(sha256Of(customersCsv({ seed: 'test-seed', count: N })));
    expect(customerAt({ seed: 'test-seed', index: 4321 })).toEqual(all[4321]);
  });

  it('different seeds give different people, not a shifted copy', () => {
    const other = [...generateCustomers({ seed: 'test-seed2', count: 1000 })];
    const mobiles = new Set(all.slice(0, 1000).map((r) => r.mobile));
    expect(other.filter((r) => mobiles.has(r.mobile)).length).toBeLessThan(5);
  });
});

describe('customers: CSV', () => {
  it('parses back to the records, under the import header', () => {
    const text = [...customersCsv({ seed: 'test-seed', count: 5000 })].join('');
    expect(text.startsWith('external_id,name,mobile,email,company,id_number,address\r\n')).toBe(true);
    expect(parse(text, { columns: true })).toEqual(all.slice(0, 5000));
  });

  it('quotes fields with commas, quotes and line breaks (RFC 4180)', () => {
    const odd = { ...all[0]!, external_id: 'x,1', name: 'W"ang', address: 'a\nb' };
    const line = customerCsvLine(odd);
    expect(line.startsWith('"x,1","W""ang",')).toBe(true);
    expect(parse(line, { columns: Object.keys(odd) })).toEqual([odd]);
  });
});

describe('customers: validity', () => {
  it('every ID number passes GB 11643 and carries a real birth date in 1950–2006', () => {
    const bad = all.filter((r) => !idOk(r.id_number) || !isValidCnIdNumber(r.id_number));
    expect(bad).toEqual([]);
  });

  it('the ID validator rejects a wrong check char and an impossible date', () => {
    const id = all[0]!.id_number;
    const wrong = id.slice(0, 17) + (id[17] === '0' ? '1' : '0');
    expect(isValidCnIdNumber(wrong)).toBe(false);
    const feb30 = `11010119900230123`;
    expect(isValidCnIdNumber(feb30 + cnIdCheckChar(feb30))).toBe(false);
  });

  it('every mobile is 11 digits under an allocated segment', () => {
    const segments = new Set(mobileSegments());
    const bad = all.filter((r) => !/^1\d{10}$/.test(r.mobile) || !segments.has(r.mobile.slice(0, 3)));
    expect(bad).toEqual([]);
    expect(all.every((r) => isValidCnMobile(r.mobile))).toBe(true);
    expect(isValidCnMobile('12012345678')).toBe(false);
  });

  it('external ids, mobiles and ID numbers are unique', () => {
    expect(new Set(all.map((r) => r.external_id)).size).toBe(N);
    expect(new Set(all.map((r) => r.mobile)).size).toBe(N);
    expect(new Set(all.map((r) => r.id_number)).size).toBe(N);
  });

  it('names, e-mails, companies and addresses have the expected shapes and proportions', () => {
    expect(all.every((r) => /^[\u4e00-\u9fa5]{2,4}$/.test(r.name))).toBe(true);
    expect(all.every((r) => /^[a-z0-9._]+@[a-z0-9.]+\.[a-z]+$/.test(r.email))).toBe(true);
    expect(all.every((r) => r.company === '' || /公司$/.test(r.company))).toBe(true);
    expect(all.every((r) => /^[\u4e00-\u9fa5]+[市].+[区县市].+号/.test(r.address))).toBe(true);
    const share = (p: (r: CustomerRecord) => boolean) => all.filter(p).length / N;
    // 王 holds 7.12 of the table's ~95 percentage points; about one customer in ten has no company.
    expect(share((r) => r.name.startsWith('王'))).toBeGreaterThan(0.06);
    expect(share((r) => r.name.startsWith('王'))).toBeLessThan(0.09);
    expect(share((r) => r.company === '')).toBeGreaterThan(0.08);
    expect(share((r) => r.company === '')).toBeLessThan(0.12);
    expect(share((r) => r.email.endsWith('@qq.com'))).toBeGreaterThan(0.3);
    // Companies recur: the pool is skewed, so some employers have several customers.
    expect(new Set(all.map((r) => r.company)).size).toBeLessThan(N * 0.95);
  });

  it('the sex encoded in the ID number is balanced', () => {
    const male = all.filter((r) => Number(r.id_number[16]) % 2 === 1).length / N;
    expect(male).toBeGreaterThan(0.47);
    expect(male).toBeLessThan(0.53);
  });
});

describe('companies, USCC, bank cards', () => {
  it('every USCC passes GB 32100 and the validator catches a changed character', () => {
    for (let k = 0; k < 3000; k++) {
      const c = generateCompany({ seed: 's', index: k });
      expect(usccCheckChar(c.uscc.slice(0, 17))).toBe(c.uscc[17]);
      expect(c.uscc.slice(2, 8)).toBe(c.districtCode);
      expect(generateUscc({ seed: 's', index: k })).toSatisfy(isValidUscc);
    }
    const code = generateCompany({ seed: 's', index: 1 }).uscc;
    const flipped = code.slice(0, 10) + (code[10] === '1' ? '2' : '1') + code.slice(11);
    expect(isValidUscc(flipped)).toBe(false);
  });

  it('the company in a customer row is the name of a company from the pool', () => {
    const names = new Set<string>();
    for (let k = 0; k < 2000; k++) names.add(generateCompany({ seed: 'test-seed', index: k }).name);
    // Low company numbers are the big employers, so many customers work for one of the first 2000.
    expect(all.filter((r) => names.has(r.company)).length).toBeGreaterThan(N * 0.02);
  });

  it('bank cards are Luhn-valid under known BINs', () => {
    for (let k = 0; k < 3000; k++) {
      const card = generateBankCard({ seed: 's', index: k });
      expect(luhnValid(card)).toBe(true);
      expect([16, 19]).toContain(card.length);
      expect(card).toMatch(/^(622202|621226|621700|436742|622848|621661|621483|622588|622262|621098)/);
    }
    expect(generateBankCard({ seed: 's', index: 7 })).toBe(generateBankCard({ seed: 's', index: 7 }));
  });
});

describe('reserved ranges', () => {
  it('no customer holds a reserved number', () => {
    // 170 is a rare segment, so reserve the whole of it to see that customers move off it.
    const reserve = [{ prefix: '170' }];
    const plain = all.filter((r) => r.mobile.startsWith('170')).length;
    expect(plain).toBeGreaterThan(0);
    const reserved = [...generateCustomers({ seed: 'test-seed', count: N, reserve })];
    expect(reserved.filter((r) => r.mobile.startsWith('170'))).toEqual([]);
    expect(new Set(reserved.map((r) => r.mobile)).size).toBe(N);
    // Only the phone number of the displaced customers changes.
    expect(reserved.filter((r, i) => r.mobile !== all[i]!.mobile).length).toBe(plain);
  });
});

describe('memory', () => {
  // Measure what is retained, not garbage the collector has not reached yet: with a forced full
  // collection before each sample, a generator that kept its records would show them all.
  v8.setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const retained = () => {
    gc();
    return process.memoryUsage().heapUsed;
  };

  // Generous timeout: under vitest's module transform the generator runs several times slower than
  // when built, and CI machines are shared. This asserts memory, never time.
  it('streams a million records in bounded memory', { timeout: 300_000 }, () => {
    const before = retained();
    let peak = before;
    let chars = 0;
    let i = 0;
    for (const line of customersCsv({ seed: 'mem', count: 1_000_000 })) {
      chars += line.length;
      if (++i % 200_000 === 0) peak = Math.max(peak, retained());
    }
    expect(chars).toBeGreaterThan(50_000_000);
    expect(peak - before).toBeLessThan(50 * 1024 * 1024);
  });
});
