import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildServer } from '../../src/app/http/server.js';
import type { Principal } from '../../src/lib/http/index.js';
import { createLogger } from '../../src/lib/log.js';
import {
  leafHash,
  ledgerRoutes,
  parseVkey,
  rootFromLeafHashes,
  tilePath,
  verifyCheckpoint,
  verifyConsistency,
  verifyInclusion,
} from '../../src/modules/ledger/index.js';
import { describeEachDialect } from '../helpers/db.js';
import { defaultPermissions } from '../helpers/permissions.js';
import { createTestLedger, events, hexToBuf, ORIGIN, type TestLedger } from './helpers.js';

/**
 * The ledger over HTTP, as an outside verifier uses it: everything served checks out with the pure
 * verifier functions and nothing else. Threats guarded (docs/adr/0006): (1) a partner or an
 * employee with no need reading entry bundles would learn every subject id, who read whom, consents
 * per subject and denial reasons: entry bundles go only to the privacy, audit and security roles,
 * everyone else gets a bare 403 FORBIDDEN; (2) a witness or outside auditor needing a credential to
 * check the log: the checkpoint, the key, the proofs and the hash tiles are public with no key.
 * `authenticate` is a fake of the actors module (an outside system here).
 */
const TOKEN = 'ctk_test_token';
const principal: Principal = { id: 'act_auditor', kind: 'employee', roles: ['auditor'], attributes: {} };
const PRINCIPALS: Record<string, Principal> = {
  [TOKEN]: principal,
  ctk_partner: { id: 'act_partner', kind: 'partner', roles: ['partner'], attributes: {} },
  ctk_support: { id: 'act_support', kind: 'employee', roles: ['support'], attributes: {} },
  ctk_privacy: { id: 'act_dpo', kind: 'employee', roles: ['privacy_officer'], attributes: {} },
};
const auth = { authorization: `Bearer ${TOKEN}` };

describeEachDialect('ledger HTTP', (dialect) => {
  let t: TestLedger;
  let app: FastifyInstance;
  const N = 700;
  beforeAll(async () => {
    t = await createTestLedger(dialect);
    await t.ledger.appendBatch(events(0, 300));
    await t.ledger.checkpoint();
    await t.ledger.appendBatch(events(300, N - 300));
    await t.ledger.checkpoint();
    app = buildServer({
      logger: createLogger({ level: 'silent' }),
      routes: ledgerRoutes({ ledger: t.ledger, permissions: defaultPermissions }),
      authenticate: async (token) => PRINCIPALS[token],
      health: async () => ({}),
      version: 'test',
    });
    await app.ready();
  });
  afterAll(async () => {
    await app.close();
    await t.db.destroy();
  });

  const get = (url: string, headers: Record<string, string> = auth) =>
    app.inject({ method: 'GET', url, headers });

  it('serves the signed checkpoint and the key in public, and they verify', async () => {
    const key = await get('/v1/ledger/public-key', {});
    expect(key.statusCode).toBe(200);
    const { vkey, origin } = key.json() as { vkey: string; origin: string };
    expect(origin).toBe(ORIGIN);
    const cp = await get('/v1/ledger/checkpoint', {});
    expect(cp.statusCode).toBe(200);
    expect(cp.headers['content-type']).toMatch(/^text\/plain/);
    const parsed = verifyCheckpoint(cp.body, parseVkey(vkey), ORIGIN);
    expect(parsed.size).toBe(N);
  });

  it('serves hash tiles, the checkpoint and proofs with no credential', async () => {
    for (const url of [
      '/v1/ledger/checkpoint',
      '/v1/ledger/public-key',
      '/v1/ledger/proof/inclusion?index=1',
      '/v1/ledger/proof/consistency?from=1&to=2',
      '/v1/ledger/tile/0/000',
      '/v1/ledger/tile/0/002.p/188',
      '/v1/ledger/tile/1/000.p/2',
    ]) {
      expect((await get(url, {})).statusCode, url).toBe(200);
    }
    expect((await get('/v1/ledger/tile/0/000', {})).headers['cache-control']).toMatch(/^public/);
  });

  it('gives entry bundles only to the privacy, audit and security roles', async () => {
    const url = '/v1/ledger/tile/entries/000';
    const none = await get(url, {});
    expect(none.statusCode).toBe(401);
    expect(none.json().code).toBe('AUTH_REQUIRED');
    expect((await get(url, { authorization: 'Bearer wrong' })).json().code).toBe('AUTH_INVALID');
    for (const who of ['ctk_partner', 'ctk_support']) {
      const res = await get(url, { authorization: `Bearer ${who}` });
      expect(res.statusCode, who).toBe(403);
      const { requestId: _id, ...body } = res.json() as Record<string, unknown>;
      expect(body, who).toEqual({ code: 'FORBIDDEN', message: 'This action is not permitted.' });
      expect(res.body, who).not.toMatch(/auditor|privacy|security|role/i);
      // Partial bundles too.
      expect(
        (await get('/v1/ledger/tile/entries/002.p/188', { authorization: `Bearer ${who}` })).statusCode,
      ).toBe(403);
    }
    for (const who of [TOKEN, 'ctk_privacy']) {
      const res = await get(url, { authorization: `Bearer ${who}` });
      expect(res.statusCode, who).toBe(200);
      expect(res.headers['cache-control']).toMatch(/^private/);
    }
  });

  it('serves inclusion proofs by index and by leaf hash that verify against the checkpoint', async () => {
    const cp = verifyCheckpoint((await get('/v1/ledger/checkpoint', {})).body, parseVkey(t.ledger.vkey()));
    for (const index of [0, 255, 256, 299, 511, N - 1]) {
      const res = await get(`/v1/ledger/proof/inclusion?index=${index}`);
      expect(res.statusCode).toBe(200);
      const p = res.json() as { size: number; leafHash: string; proof: string[]; checkpoint?: string };
      expect(p.size).toBe(N);
      expect(p.checkpoint).toBe((await t.ledger.latestCheckpoint())?.note);
      const ok = verifyInclusion({
        index,
        size: N,
        leafHash: hexToBuf(p.leafHash),
        proof: p.proof.map(hexToBuf),
        root: cp.root,
      });
      expect(ok).toBe(true);
      const byLeaf = await get(`/v1/ledger/proof/inclusion?leaf=${p.leafHash.toUpperCase()}`);
      expect(byLeaf.json()).toMatchObject({ index });
    }
    const older = (await get('/v1/ledger/proof/inclusion?index=7&size=300')).json() as {
      size: number;
      root: string;
    };
    expect(older.size).toBe(300);
  });

  it('serves consistency proofs between the checkpoints', async () => {
    const res = await get(`/v1/ledger/proof/consistency?from=300&to=${N}`);
    expect(res.statusCode).toBe(200);
    const p = res.json() as { fromRoot: string; toRoot: string; proof: string[] };
    const cp = verifyCheckpoint((await get('/v1/ledger/checkpoint', {})).body, parseVkey(t.ledger.vkey()));
    expect(
      verifyConsistency({
        size1: 300,
        size2: N,
        root1: hexToBuf(p.fromRoot),
        root2: cp.root,
        proof: p.proof.map(hexToBuf),
      }),
    ).toBe(true);
  });

  it('answers bad requests with stable codes', async () => {
    const cases: [string, number, string][] = [
      ['/v1/ledger/proof/inclusion', 400, 'LEDGER_QUERY_INVALID'],
      ['/v1/ledger/proof/inclusion?index=1&leaf=' + 'a'.repeat(64), 400, 'LEDGER_QUERY_INVALID'],
      ['/v1/ledger/proof/inclusion?leaf=xyz', 400, 'VALIDATION_FAILED'],
      ['/v1/ledger/proof/inclusion?index=-1', 400, 'VALIDATION_FAILED'],
      [`/v1/ledger/proof/inclusion?index=${N}`, 404, 'LEDGER_INDEX_OUT_OF_RANGE'],
      [`/v1/ledger/proof/inclusion?leaf=${'ab'.repeat(32)}`, 404, 'LEDGER_LEAF_NOT_FOUND'],
      [`/v1/ledger/proof/consistency?from=5&to=${N + 1}`, 400, 'LEDGER_SIZE_OUT_OF_RANGE'],
      ['/v1/ledger/tile/0/1', 400, 'LEDGER_TILE_PATH_INVALID'],
      ['/v1/ledger/tile/0/x000/001', 400, 'LEDGER_TILE_PATH_INVALID'],
      ['/v1/ledger/tile/0/x001/000', 404, 'LEDGER_TILE_NOT_FOUND'],
      ['/v1/ledger/tile/0/002', 404, 'LEDGER_TILE_NOT_FOUND'],
      ['/v1/ledger/tile/0/002.p/189', 404, 'LEDGER_TILE_NOT_FOUND'],
      ['/v1/ledger/tile/entries/003', 404, 'LEDGER_TILE_NOT_FOUND'],
    ];
    for (const [url, status, code] of cases) {
      const res = await get(url);
      expect(res.statusCode, url).toBe(status);
      expect(res.json().code, url).toBe(code);
    }
  });

  it('serves C2SP tiles and entry bundles from which a client rebuilds the signed root', async () => {
    const cp = verifyCheckpoint((await get('/v1/ledger/checkpoint', {})).body, parseVkey(t.ledger.vkey()));
    const leaves: Buffer[] = [];
    for (let i = 0; i * 256 < N; i++) {
      const w = Math.min(256, N - i * 256);
      const res = await get(`/v1/ledger/${tilePath(0, i, w)}`);
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toBe('application/octet-stream');
      expect(res.headers['cache-control']).toContain('immutable');
      expect(res.rawPayload.length).toBe(w * 32);
      const bundle = (await get(`/v1/ledger/${tilePath('entries', i, w)}`)).rawPayload;
      let at = 0;
      for (let j = 0; j < w; j++) {
        const len = bundle.readUInt16BE(at);
        const h = leafHash(bundle.subarray(at + 2, at + 2 + len));
        expect(h.equals(res.rawPayload.subarray(j * 32, (j + 1) * 32))).toBe(true);
        leaves.push(h);
        at += 2 + len;
      }
    }
    expect(rootFromLeafHashes(leaves).equals(cp.root)).toBe(true);
    // Level 1 holds the roots of the 256-leaf subtrees.
    const l1 = (await get('/v1/ledger/tile/1/000.p/2')).rawPayload;
    expect(l1.subarray(0, 32).equals(rootFromLeafHashes(leaves.slice(0, 256)))).toBe(true);
  });
});
