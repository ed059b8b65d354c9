import { afterAll, beforeAll, expect, it } from 'vitest';
import { cnIdCheckChar } from '../../src/lib/checkdigits.js';
import { isAppError } from '../../src/lib/errors.js';
import {
  createVault,
  type ImportProgress,
  importSubjects,
  loadCatalog,
  openSubjectFields,
} from '../../src/modules/vault/index.js';
import { describeEachDialect } from '../helpers/db.js';
import { csv, type VaultFixture, vaultFixture } from './helpers.js';

const HEADER = 'external_id,name,mobile,email,company,id_number,address';
const id = (first17: string) => first17 + cnIdCheckChar(first17);
const ID1 = id('11010519800101001');
const ID2 = id('31010119900215002');
const ID3 = id('44030419851111003');

async function headerError(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (isAppError(e)) return e.code;
    throw e;
  }
  throw new Error('expected a whole-file error');
}

/**
 * One file holding every kind of bad row the import must survive. Each entry is the raw bytes of
 * one record (without its line end) and what the import must say about it: null for a good row,
 * or the [column, code] problems it must report. Row and line numbers are computed from the list.
 */
type Expect = null | [string | null, string][];
const TEN_MB = 'x'.repeat(10 * 1024 * 1024);
const ROWS: [Buffer | string, Expect][] = [
  [`G1,张三,13812345678,zhang@example.com,北京某某科技有限公司,${ID1},北京市朝阳区建国路88号`, null],
  [
    `B1,李四,13812345679,li@example.com,公司,110105198001010010,北京市`,
    [['id_number', 'VAULT_ID_CHECK_DIGIT_INVALID']],
  ],
  [
    `B2,王五,13812345670,wang@example.com,公司,${id('11010519800230001')},北京市`,
    [['id_number', 'VAULT_ID_BIRTH_DATE_INVALID']],
  ],
  [`B3,赵六,1381234,zhao@example.com,公司,${ID2},上海市`, [['mobile', 'VAULT_PHONE_INVALID']]],
  [
    Buffer.concat([
      Buffer.from('B4,'),
      Buffer.from([0xe5, 0xbc, 0xff, 0xfe]),
      Buffer.from(',13812345671,,,,'),
    ]),
    [['name', 'IMPORT_CELL_ENCODING']],
  ],
  [`B5,钱七,13812345672`, [[null, 'IMPORT_ROW_COLUMN_COUNT']]],
  [`G2,"孙八","+86 139 0000 0001","Sun@Example.com",,${ID2},"上海市浦东新区\n世纪大道100号"`, null],
  [`B6,周九,13812345673,zhou@example.com,公司,${ID3},"${TEN_MB}"`, [['address', 'IMPORT_CELL_TOO_LARGE']]],
  [
    `B7,吴十,13812345674,wu@example.com,${'y'.repeat(100 * 1024)},${ID3},深圳市`,
    [['company', 'IMPORT_CELL_TOO_LARGE']],
  ],
  [`B8,"郑"十一",13812345675,zheng@example.com,公司,${ID3},深圳市`, [[null, 'IMPORT_ROW_MALFORMED']]],
  [
    `G1,张三,13812345678,zhang@example.com,北京某某科技有限公司,${ID1},北京市朝阳区建国路88号`,
    [['external_id', 'IMPORT_DUPLICATE_IN_FILE']],
  ],
  [
    `,冯十二,13812345676,feng@example.com,公司,${ID3},深圳市`,
    [['external_id', 'IMPORT_EXTERNAL_ID_MISSING']],
  ],
  [
    `13812345677,陈十三,13812345677,chen@example.com,公司,${ID3},深圳市`,
    [['external_id', 'VAULT_EXTERNAL_ID_INVALID']],
  ],
  [
    `B9,褚十四,1381234567x,chu@@example.com,公司,${ID3},深圳市`,
    [
      ['mobile', 'VAULT_PHONE_INVALID'],
      ['email', 'VAULT_EMAIL_INVALID'],
    ],
  ],
  [`B10,,,,,,`, [[null, 'VAULT_NO_FIELDS']]],
  [`B11,卫15,13812345678,wei@example.com,公司,${ID3},深圳市`, [['name', 'VAULT_VALUE_MALFORMED']]],
  [`G3,蒋十六,17000000001,,,${ID3},`, null],
  [`B12,沈十七,13812345678,shen@example.com,公司,${ID3},深圳市,extra`, [[null, 'IMPORT_ROW_COLUMN_COUNT']]],
  [`G4,韩十八,19912345678,han@example.com,广州某某有限公司,${id('44010619700101004')},广州市天河区`, null],
];

function buildFile(): {
  bytes: Buffer;
  expected: { row: number; line: number; column: string | null; code: string }[];
  good: string[];
} {
  const parts: Buffer[] = [Buffer.from(`\uFEFF${HEADER}\r\n`)];
  const expected: { row: number; line: number; column: string | null; code: string }[] = [];
  const good: string[] = [];
  let line = 2;
  ROWS.forEach(([raw, exp], i) => {
    const bytes = typeof raw === 'string' ? Buffer.from(raw) : raw;
    if (i === 3) {
      // A blank line between records: skipped, not a row, but it is a line.
      parts.push(Buffer.from('\r\n'));
      line++;
    }
    parts.push(bytes, Buffer.from('\r\n'));
    const row = i + 1;
    if (exp === null) good.push(bytes.toString().split(',')[0]!);
    else for (const [column, code] of exp) expected.push({ row, line, column, code });
    line += bytes.toString('latin1').split('\n').length;
  });
  return { bytes: Buffer.concat(parts), expected, good };
}

describeEachDialect('CSV import', (dialect) => {
  let f: VaultFixture;
  beforeAll(async () => {
    f = await vaultFixture(dialect);
  });
  afterAll(async () => {
    await f.destroy();
  });

  // (b) every kind of bad input: reported by row, line, column and code; good rows imported whole.
  async function importsTheBadFile(f: VaultFixture, worker: boolean): Promise<void> {
    const { bytes, expected, good } = buildFile();
    const chunks: Buffer[] = [];
    for (let i = 0; i < bytes.length; i += 64 * 1024) chunks.push(bytes.subarray(i, i + 64 * 1024));
    const progress: ImportProgress[] = [];
    const r = await importSubjects(f.vault, chunks, {
      batchSize: 2,
      worker,
      onProgress: (p) => progress.push(p),
    });
    expect(r.rejected).toEqual(expected);
    expect(r).toMatchObject({
      rows: ROWS.length,
      imported: good.length,
      updated: 0,
      unchanged: 0,
      rejectedRows: ROWS.length - good.length,
      rejectedTruncated: false,
    });
    expect(r.aborted).toBeUndefined();
    // The report never carries a value.
    const report = JSON.stringify(r);
    for (const v of ['13812345679', '1381234', 'chu@@example.com', '郑', TEN_MB.slice(0, 100)])
      expect(report).not.toContain(v);

    // Exactly the good rows exist, each complete; no table holds anything of a bad row.
    expect(await f.counts()).toEqual({
      subjects: 4,
      sealed_fields: 6 + 5 + 3 + 6,
      blind_index: 3 + 3 + 2 + 3,
    });
    for (const [raw, exp] of ROWS) {
      const ext = (typeof raw === 'string' ? raw : raw.toString()).split(',')[0]!;
      if (exp !== null && ext !== 'G1' && ext !== '')
        expect(await f.vault.findByExternalId(ext), ext).toBeUndefined();
    }
    const g2 = (await f.vault.findByExternalId('G2'))!;
    expect(
      await openSubjectFields(f.vault, f.db.db, g2.id, ['name', 'mobile', 'email', 'company', 'address']),
    ).toEqual({
      name: '孙八',
      mobile: '+8613900000001',
      email: 'sun@example.com',
      address: '上海市浦东新区 世纪大道100号',
    });
    expect(progress.length).toBeGreaterThan(1);
    expect(progress.at(-1)).toMatchObject({ rows: ROWS.length, imported: 4, bytes: bytes.length });
    const events = await f.events();
    const created = events.filter((e) => e.kind === 'subject.created');
    expect(created.reduce((n, e) => n + Number(e.attrs!.count), 0)).toBe(4);
    expect(events.at(-1)).toEqual({
      kind: 'import.completed',
      actor: null,
      attrs: { rows: ROWS.length, imported: 4, updated: 0, unchanged: 0, rejectedRows: ROWS.length - 4 },
    });
  }

  it('imports the good rows, reports each bad one by number and code, and writes no part of a bad row', async () => {
    await importsTheBadFile(f, false);
  });

  it('does the same when parsing and sealing run in a worker thread', async () => {
    const g = await vaultFixture(dialect);
    try {
      await importsTheBadFile(g, true);
    } finally {
      await g.destroy();
    }
  });

  it('is idempotent: the same file again creates nothing and reports the same rows', async () => {
    const { bytes, expected } = buildFile();
    const before = await f.counts();
    const r = await importSubjects(f.vault, [bytes], { batchSize: 3 });
    expect(r).toMatchObject({ imported: 0, updated: 0, unchanged: 4, rejectedRows: ROWS.length - 4 });
    expect(r.rejected).toEqual(expected);
    expect(await f.counts()).toEqual(before);
  });

  it('updates a subject whose row changed, and an empty cell removes the value', async () => {
    const g4 = (await f.vault.findByExternalId('G4'))!;
    const r = await importSubjects(f.vault, [
      csv([HEADER, `G4,韩十八,19912345679,,广州某某有限公司,${id('44010619700101004')},广州市天河区`]),
    ]);
    expect(r).toMatchObject({ imported: 0, updated: 1, unchanged: 0, rejectedRows: 0 });
    expect(await f.vault.lookup('mobile', '19912345679')).toEqual([g4.id]);
    expect(await f.vault.lookup('mobile', '19912345678')).toEqual([]);
    expect(await f.vault.lookup('email', 'han@example.com')).toEqual([]);
    expect((await f.vault.get(g4.id)).fields).toEqual(['address', 'company', 'id_number', 'mobile', 'name']);
  });

  it('with a partial header compares and updates only the columns given, keeping the rest', async () => {
    const g1 = (await f.vault.findByExternalId('G1'))!;
    const same = await importSubjects(f.vault, [csv(['email,external_id', 'ZHANG@example.com,G1'])]);
    expect(same).toMatchObject({ imported: 0, updated: 0, unchanged: 1 });
    const changed = await importSubjects(f.vault, [
      csv(['email,external_id', 'zhang.new@example.com,G1', 'solo@example.com,N1']),
    ]);
    expect(changed).toMatchObject({ imported: 1, updated: 1, unchanged: 0 });
    expect(await openSubjectFields(f.vault, f.db.db, g1.id, ['name', 'email', 'mobile'])).toEqual({
      name: '张三',
      email: 'zhang.new@example.com',
      mobile: '+8613812345678',
    });
  });

  it('does not bring an erased subject back', async () => {
    const g3 = (await f.vault.findByExternalId('G3'))!;
    await f.vault.erase(g3.id);
    const r = await importSubjects(f.vault, [csv([HEADER, `G3,蒋十六,17000000001,,,${ID3},`])]);
    expect(r.rejected).toEqual([{ row: 1, line: 2, column: 'external_id', code: 'VAULT_SUBJECT_ERASED' }]);
    expect(r.imported + r.updated + r.unchanged).toBe(0);
    expect(await f.vault.lookup('mobile', '17000000001')).toEqual([]);
  });

  it('refuses an unusable header before writing anything', async () => {
    const before = await f.counts();
    const cases: [string[], string][] = [
      [['name,mobile', '张三,13812345678'], 'IMPORT_HEADER_NO_EXTERNAL_ID'],
      [['external_id,name,passport', 'C9,张三,E1'], 'IMPORT_HEADER_UNKNOWN_COLUMN'],
      [['external_id,name,name', 'C9,张三,张三'], 'IMPORT_HEADER_DUPLICATE_COLUMN'],
      [[], 'IMPORT_HEADER_MISSING'],
      [['"external_id,name', 'C9,张三'], 'IMPORT_HEADER_MISSING'],
    ];
    for (const [lines, code] of cases)
      expect(await headerError(importSubjects(f.vault, [csv(lines)])), code).toBe(code);
    expect(await f.counts()).toEqual(before);
  });

  it('stops on a database failure without throwing; committed batches stay and a re-run completes', async () => {
    let calls = 0;
    const flaky = createVault({
      db: f.db.db,
      dialect,
      keyring: f.keyring,
      catalog: loadCatalog(),
      clock: f.clock,
      // The ledger append fails in the second batch's transaction, which must then roll back whole.
      record: async (_trx, events) => {
        if (events.some((e) => e.kind === 'subject.created') && ++calls === 2)
          throw new Error('ledger unavailable');
        return events.map(() => '00');
      },
    });
    const lines = [HEADER];
    for (let i = 0; i < 5; i++)
      lines.push(`F${i},测试${'甲乙丙丁戊'[i]},1370000100${i},f${i}@example.com,,,`);
    const before = await f.counts();
    const r = await importSubjects(flaky, [csv(lines)], { batchSize: 2 });
    expect(r.aborted).toEqual({ code: 'IMPORT_ABORTED', afterRow: 2 });
    expect(r.imported).toBe(2);
    expect((await f.counts()).subjects).toBe(before.subjects! + 2);
    expect(await f.vault.findByExternalId('F2')).toBeUndefined();
    const again = await importSubjects(f.vault, [csv(lines)], { batchSize: 2 });
    expect(again).toMatchObject({ imported: 3, unchanged: 2, rejectedRows: 0 });
  });
});
