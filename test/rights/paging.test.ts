/*
 * Threats: (1) an operator who shows a customer one page of his history with a read dropped,
 * added or moved (in the response or in the store), or who hands him a forged "head before this
 * page" so that the newest entries seem to be all there is — each page must fail verification with
 * only the log's key; (2) pages that verify one by one but, walked together, skip entries between
 * them — the walk must catch it, and a complete walk must prove what the full download proves;
 * (3) a client feeding the portal a crafted cursor to read beyond his history or to make the
 * server misbehave — a stable 400 and nothing served.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { fixedClock } from '../../src/lib/clock.js';
import {
  encodeCursor,
  type HistoryBundle,
  type HistoryPage,
  verifyHistory,
  verifyHistoryPage,
  verifyHistoryWalk,
} from '../../src/modules/rights/index.js';
import * as browser from '../../web/src/lib/verify.js';
import { buildHttp, createTestApp, type TestApp } from '../helpers/app.js';
import { describeEachDialect, sql } from '../helpers/db.js';

interface PageBody {
  events: { index: number; kind: string }[];
  page: HistoryPage;
  next: string | null;
}

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;
const VERIFIER = join(import.meta.dirname, '../../scripts/verify-subject.mjs');

/** The dependency-free verifier, as a customer would run it on a saved page or walk. */
function standalone(doc: unknown, key: string): { ok: boolean; out: string } {
  const file = join(mkdtempSync(join(tmpdir(), 'custodian-pages-')), 'pages.json');
  writeFileSync(file, JSON.stringify(doc));
  try {
    return {
      ok: true,
      out: execFileSync(process.execPath, [VERIFIER, file, '--key', key], { encoding: 'utf8' }),
    };
  } catch (e) {
    return { ok: false, out: String((e as { stdout?: string }).stdout ?? '') };
  }
}

describeEachDialect('rights portal: paged history', (dialect) => {
  let app: TestApp;
  let http: FastifyInstance;
  let subjectId: string;
  let token = '';
  const clock = fixedClock('2026-03-02T02:00:00.000Z');

  async function commit() {
    await app.access.drain();
    await app.ledger.integrate();
    await app.ledger.checkpoint();
    await app.rights.commitSubjects();
  }

  async function get(url: string) {
    return http.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });
  }

  async function walk(limit: number): Promise<PageBody[]> {
    const pages: PageBody[] = [];
    let cursor: string | null = null;
    do {
      const res = await get(`/v1/portal/history?limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.statusCode, res.body).toBe(200);
      const body = res.json() as PageBody;
      pages.push(body);
      cursor = body.next;
    } while (cursor && pages.length < 100);
    return pages;
  }

  beforeAll(async () => {
    app = await createTestApp(dialect, { clock });
    http = buildHttp(app);
    await http.ready();
    subjectId = (await app.vault.create({ fields: { name: '李明', mobile: '13800138000' } })).id;
    const other = (await app.vault.create({ fields: { name: '王芳', mobile: '13700137000' } })).id;
    const { actor } = await app.actors.create(
      { name: 'billing-1', kind: 'employee', roles: ['billing'] },
      { by: null },
    );
    const p = { id: actor.id, kind: 'employee' as const, roles: ['billing'], attributes: {} };
    // Two commitments: his chain continues across them.
    for (let i = 0; i < 9; i++) {
      await app.access.read(p, { subjectId, purpose: 'billing', fields: ['name'] });
      await app.access.read(p, { subjectId: other, purpose: 'billing', fields: ['name'] });
    }
    await commit();
    for (let i = 0; i < 8; i++) await app.access.read(p, { subjectId, purpose: 'billing', fields: ['name'] });
    token = (await app.rights.createSession(subjectId)).token;
    await commit();
  });
  afterAll(async () => {
    await http?.close();
    await app?.destroy();
  });

  it('the newest page verifies on its own against the signed commitment; newest first', async () => {
    const res = await get('/v1/portal/history?limit=5');
    expect(res.statusCode).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    const { page, events, next } = res.json() as PageBody;
    expect(page.entries).toHaveLength(5);
    expect(page.to).toBe(page.count);
    expect(page.from).toBe(page.count - 4);
    expect(page.completeness).toBeDefined();
    expect(events.map((e) => e.index)).toEqual(page.entries.map((e) => e.index));
    const idx = page.entries.map((e) => e.index);
    expect(idx).toEqual([...idx].sort((a, b) => b - a));
    expect(next).toBe(encodeCursor(page.from - 1));
    const r = verifyHistoryPage(page);
    expect(r).toMatchObject({ ok: true, newest: true, entries: 5 });
    // Pinning the wrong key fails.
    const otherKey = app.ledger.vkey().replace(/\+[0-9a-f]{8}\+/, '+00000000+');
    expect(verifyHistoryPage(page, otherKey).ok).toBe(false);
  });

  it('the walk over all pages proves what the full download proves', async () => {
    for (const limit of [1, 4, 7, 500]) {
      const pages = await walk(limit);
      const report = verifyHistoryWalk(pages.map((p) => p.page));
      expect(report, JSON.stringify(report.problems)).toMatchObject({ ok: true, complete: true });
      const dl = await get('/v1/portal/history/download');
      expect(dl.statusCode).toBe(200);
      const bundle = (dl.json() as { bundle: HistoryBundle }).bundle;
      const full = verifyHistory(bundle);
      expect(full.ok).toBe(true);
      expect(report.entries).toBe(full.entries);
      expect(report.size).toBe(full.size);
      const walked = pages.flatMap((p) => p.page.entries);
      expect(walked.map((e) => e.index).reverse()).toEqual(bundle.entries.map((e) => e.index));
      expect(walked.map((e) => e.entry).reverse()).toEqual(bundle.entries.map((e) => e.entry));
      expect(pages.at(-1)!.page.from).toBe(1);
      expect(pages.at(-1)!.next).toBeNull();
    }
  });

  it('a dropped, added or reordered entry, or a forged previous head, fails the page', async () => {
    const [first, second] = await walk(5);
    const p = first!.page;
    const older = second!.page;
    expect(verifyHistoryPage(older)).toMatchObject({ ok: true, newest: false });

    const dropped = clone(p);
    dropped.entries.splice(2, 1);
    expect(verifyHistoryPage(dropped).ok).toBe(false);
    // Dropped and the positions "fixed up" to match: the chain no longer reaches the signed head.
    dropped.from += 1;
    expect(verifyHistoryPage(dropped).ok).toBe(false);
    const droppedOlder = clone(older);
    droppedOlder.entries.splice(1, 1);
    droppedOlder.from += 1;
    expect(verifyHistoryPage(droppedOlder).ok).toBe(false);

    const added = clone(p);
    added.entries.splice(1, 0, clone(older.entries[0]!));
    added.from -= 1;
    expect(verifyHistoryPage(added).ok).toBe(false);

    const reordered = clone(p);
    [reordered.entries[1], reordered.entries[2]] = [reordered.entries[2]!, reordered.entries[1]!];
    expect(verifyHistoryPage(reordered).ok).toBe(false);

    // A forged previous head: the newest page no longer reaches the signed (count, head) …
    const forged = clone(p);
    forged.prevHead = 'ab'.repeat(32);
    const fr = verifyHistoryPage(forged);
    expect(fr.ok).toBe(false);
    expect(fr.problems.join()).toContain('chain');
    // … and "these are all his entries" (from = 1, any previous head but zero) is refused.
    const shortcut = clone(p);
    shortcut.from = 1;
    shortcut.count = 5;
    expect(verifyHistoryPage(shortcut).ok).toBe(false);
    // An older page with a forged previous head (and its own head made to match) fails the walk.
    const olderForged = clone(older);
    olderForged.prevHead = '00'.repeat(32);
    expect(verifyHistoryPage(olderForged).ok).toBe(false);
    const all = (await walk(5)).map((x) => x.page);
    const cut = [all[0]!, ...all.slice(2)];
    expect(verifyHistoryWalk(cut).ok).toBe(false);
    expect(verifyHistoryWalk(all.slice(0, -1))).toMatchObject({ ok: false, complete: false });
    expect(verifyHistoryWalk(all.slice(1)).ok).toBe(false); // does not start at the newest page
  });

  it('the browser’s verifier (web/src/lib/verify.ts, WebCrypto) agrees, page by page and over the walk', async () => {
    const vkey = app.ledger.vkey();
    const pages = (await walk(6)).map((x) => x.page);
    const first = await browser.verifyHistoryPage(pages[0]!, vkey);
    expect(first, JSON.stringify(first.problems)).toMatchObject({
      ok: true,
      newest: true,
      signature: 'valid',
    });
    expect(Object.values(first.entries).every(Boolean)).toBe(true);
    const w = await browser.verifyHistoryWalk(pages, vkey);
    expect(w).toMatchObject({
      ok: true,
      complete: true,
      entries: pages.reduce((n, p) => n + p.entries.length, 0),
    });

    const dropped = clone(pages[0]!);
    dropped.entries.splice(1, 1);
    dropped.from += 1;
    expect((await browser.verifyHistoryPage(dropped, vkey)).ok).toBe(false);
    const reordered = clone(pages[1]!);
    [reordered.entries[0], reordered.entries[1]] = [reordered.entries[1]!, reordered.entries[0]!];
    expect((await browser.verifyHistoryPage(reordered, vkey)).ok).toBe(false);
    const forged = clone(pages[0]!);
    forged.prevHead = 'cd'.repeat(32);
    expect((await browser.verifyHistoryPage(forged, vkey)).ok).toBe(false);
    expect((await browser.verifyHistoryWalk([pages[0]!, ...pages.slice(2)], vkey)).ok).toBe(false);
    const otherKey = vkey.replace(/\+[0-9a-f]{8}\+/, '+00000000+');
    expect((await browser.verifyHistoryPage(pages[0]!, otherKey)).ok).toBe(false);
  });

  it('scripts/verify-subject.mjs checks a saved page and a saved walk, and refuses tampered ones', async () => {
    const vkey = app.ledger.vkey();
    const answers = await walk(6);
    const one = standalone(answers[0], vkey);
    expect(one.ok, one.out).toBe(true);
    expect(one.out).toContain('his newest entries');
    const all = standalone(answers, vkey);
    expect(all.ok, all.out).toBe(true);
    expect(all.out).toContain('none left out');
    const skipped = standalone({ pages: [answers[0], ...answers.slice(2)] }, vkey);
    expect(skipped.ok).toBe(false);
    expect(skipped.out).toContain('does not continue');
    const dropped = clone(answers[0]!);
    dropped.page.entries.splice(0, 1);
    dropped.page.to -= 1;
    const d = standalone(dropped, vkey);
    expect(d.ok).toBe(false);
    expect(d.out).toContain('completeness');
  });

  it('a row lost from the store is caught by the page that should hold it', async () => {
    const before = (await walk(5)).map((x) => x.page);
    const victim = before[1]!.entries[2]!.index;
    await sql`DELETE FROM rights_entry_heads WHERE subject_id = ${subjectId} AND idx = ${victim}`.execute(
      app.database.db,
    );
    const after = (await walk(5)).map((x) => x.page);
    expect(verifyHistoryWalk(after).ok).toBe(false);
    expect(after.map((p) => verifyHistoryPage(p).ok)).toContain(false);
    // The committer rebuilds the per-entry heads from the ledger (as for rows committed before
    // migration 0018): the walk verifies again and equals the one before.
    await sql`DELETE FROM rights_entry_heads WHERE subject_id = ${subjectId}`.execute(app.database.db);
    expect(await app.rights.backfillEntryHeads()).toBeGreaterThanOrEqual(1);
    const rebuilt = (await walk(5)).map((x) => x.page);
    expect(verifyHistoryWalk(rebuilt)).toMatchObject({ ok: true, complete: true });
    expect(rebuilt.map((p) => p.entries)).toEqual(before.map((p) => p.entries));
  });

  it('a bad cursor is a 400 with a stable code; a bad limit a 400', async () => {
    const { page } = (await get('/v1/portal/history?limit=5')).json() as PageBody;
    for (const cursor of [
      'not*base64',
      Buffer.from('0').toString('base64url'),
      Buffer.from('007').toString('base64url'),
      Buffer.from('-3').toString('base64url'),
      Buffer.from('1e3').toString('base64url'),
      encodeCursor(page.count + 1),
      `${encodeCursor(2)}=`,
      'A'.repeat(60),
    ]) {
      const r = await get(`/v1/portal/history?cursor=${encodeURIComponent(cursor)}`);
      expect(r.statusCode, cursor).toBe(400);
      expect(r.json().code).toBe('RIGHTS_CURSOR_INVALID');
    }
    for (const limit of ['0', '501', 'x']) {
      const r = await get(`/v1/portal/history?limit=${limit}`);
      expect(r.statusCode).toBe(400);
    }
    // Without a session: nothing.
    const anon = await http.inject({ method: 'GET', url: '/v1/portal/history?limit=5' });
    expect(anon.statusCode).toBe(401);
    const anonDl = await http.inject({ method: 'GET', url: '/v1/portal/history/download' });
    expect(anonDl.statusCode).toBe(401);
  });
});
