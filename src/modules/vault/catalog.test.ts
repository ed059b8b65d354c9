import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isAppError } from '../../lib/errors.js';
import { createCatalog, DEFAULT_FIELDS, defaultCatalog, loadCatalog, parseCatalogFile } from './catalog.js';

const ctx = { today: '20240601' };

function writeTemp(name: string, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'custodian-catalog-'));
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

function codeAndMessage(fn: () => unknown): [string, string] {
  try {
    fn();
  } catch (e) {
    if (isAppError(e)) return [e.code, e.message];
    throw e;
  }
  throw new Error('expected an error');
}

describe('default catalog: the registration record', () => {
  it('has the six fields with their types, indexes and classes', () => {
    const summary = defaultCatalog.fields.map((f) => [
      f.name,
      f.type,
      f.searchable,
      f.sensitivity,
      f.category,
    ]);
    expect(summary).toEqual([
      ['name', 'person_name', false, 'general', 'identity'],
      ['mobile', 'cn_mobile', true, 'general', 'contact'],
      ['email', 'email', true, 'general', 'contact'],
      ['company', 'company', false, 'general', 'organisation'],
      ['id_number', 'cn_id_number', true, 'sensitive', 'identity'],
      ['address', 'address', false, 'general', 'contact'],
    ]);
    expect(loadCatalog().names).toEqual(DEFAULT_FIELDS.map((f) => f.name));
  });

  it('validates through the field type', () => {
    expect(defaultCatalog.field('mobile')!.check('+86 138 1234 5678', ctx)).toBe('+8613812345678');
    expect(defaultCatalog.field('mobile')!.maskValue('+8613812345678')).toBe('138****5678');
    expect(defaultCatalog.field('nope')).toBeUndefined();
  });
});

describe('catalog extension files', () => {
  it('adds fields from YAML, replaces a built-in of the same name, and applies masks', () => {
    const file = writeTemp(
      'catalog.yaml',
      [
        'fields:',
        '  - { name: bank_account, type: bank_card, searchable: true }',
        '  - { name: birthday, type: date, mask: full }',
        '  - { name: notes, type: text, maxLength: 200, sensitivity: sensitive, category: other }',
        '  - { name: address, type: address, mask: "keep:3:0" }',
        '  - { name: landline, type: phone }',
      ].join('\n'),
    );
    const c = loadCatalog(file);
    expect(c.names).toEqual([
      'name',
      'mobile',
      'email',
      'company',
      'id_number',
      'address',
      'bank_account',
      'birthday',
      'notes',
      'landline',
    ]);
    expect(c.field('bank_account')).toMatchObject({
      type: 'bank_card',
      searchable: true,
      sensitivity: 'sensitive',
      category: 'financial',
    });
    expect(c.field('birthday')!.maskValue('1990-05-17')).toBe('****');
    expect(c.field('address')!.maskValue('北京市朝阳区')).toBe('北京市***');
    expect(c.field('notes')!.check('x'.repeat(201), ctx)).toMatchObject({ code: 'VAULT_VALUE_TOO_LONG' });
    expect(c.field('notes')!.sensitivity).toBe('sensitive');
  });

  it('reads JSON (a bare list) too', () => {
    const file = writeTemp(
      'catalog.json',
      JSON.stringify([{ name: 'employer_code', type: 'uscc', searchable: true }]),
    );
    expect(loadCatalog(file).field('employer_code')).toMatchObject({ type: 'uscc', searchable: true });
  });

  const bad: [string, string, RegExp][] = [
    ['unknown type', '[{ name: x, type: passport }]', /field "x": unknown type "passport"/],
    ['bad name', '[{ name: "Bad Name", type: text }]', /not a valid field name/],
    ['reserved name', '[{ name: external_id, type: text }]', /not a valid field name/],
    ['reserved prefix', '[{ name: "#record", type: text }]', /not a valid field name/],
    ['duplicate', '[{ name: a, type: text }, { name: a, type: text }]', /listed twice/],
    ['bad mask', '[{ name: a, type: text, mask: partial }]', /mask must be/],
    ['bad sensitivity', '[{ name: a, type: text, sensitivity: secret }]', /sensitivity must be/],
    ['bad category', '[{ name: a, type: text, category: misc }]', /category must be/],
    ['maxLength on a fixed type', '[{ name: a, type: email, maxLength: 10 }]', /maxLength applies/],
    ['unknown key', '[{ name: a, type: text, colour: red }]', /Unrecognized key/i],
    ['not a list', 'fields: 3', /fields/],
    ['not YAML', '[{ name: a', /not valid YAML/],
  ];
  it.each(bad)('rejects %s with VAULT_CATALOG_INVALID', (_what, text, message) => {
    const [code, msg] = codeAndMessage(() => createCatalog([...DEFAULT_FIELDS, ...parseCatalogFile(text)]));
    expect(code).toBe('VAULT_CATALOG_INVALID');
    expect(msg).toMatch(message);
  });

  it('names an unreadable file without reading further', () => {
    const [code, msg] = codeAndMessage(() => loadCatalog('/nonexistent/catalog.yaml'));
    expect(code).toBe('VAULT_CATALOG_INVALID');
    expect(msg).toContain('/nonexistent/catalog.yaml');
  });
});
