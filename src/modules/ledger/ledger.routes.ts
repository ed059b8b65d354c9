import { z } from 'zod';
import { type Permissions, type RouteDef, route } from '../../lib/http/index.js';
import { ledgerError } from './ledger.errors.js';
import type { Ledger } from './ledger.service.js';
import { parseTilePath } from './tiles.js';

/**
 * The ledger over HTTP, split into a public tree and private entries (docs/adr/0006):
 * - public, no credential: the signed checkpoint, the public key, inclusion and consistency proofs
 *   and the hash tiles tile/<L>/<N>[.p/<W>]. They carry hashes only, so a witness or an outside
 *   auditor checks the log with no API key.
 * - private: the entry bundles tile/entries/<N>[.p/<W>] carry the entries' contents (pseudonymous
 *   subject ids, who read whom, consents, denial reasons). Only actors holding `ledger.read_entries`
 *   (the policy's `permissions:`; by default privacy, audit, security and administration) get
 *   them; every other actor gets a plain 403 FORBIDDEN that says nothing about roles.
 *
 * Tiles follow the C2SP tlog-tiles read paths under /v1/ledger/, so tlog clients can fetch them.
 * A full tile, and a partial tile of a given width, never change, so they are cached long.
 */
const hexHash = z.string().regex(/^[0-9a-fA-F]{64}$/);
const count = z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

const InclusionQuery = z.object({
  index: count.optional(),
  leaf: hexHash.optional(),
  size: count.optional(),
});

const InclusionResponse = z.object({
  index: z.number(),
  size: z.number(),
  leafHash: z.string(),
  root: z.string(),
  proof: z.array(z.string()),
  checkpoint: z.string().optional(),
});

const ConsistencyQuery = z.object({ from: count, to: count });

const ConsistencyResponse = z.object({
  from: z.number(),
  to: z.number(),
  fromRoot: z.string(),
  toRoot: z.string(),
  proof: z.array(z.string()),
});

const PublicKeyResponse = z.object({
  origin: z.string(),
  algorithm: z.literal('ed25519'),
  vkey: z.string(),
});

const IMMUTABLE = 'public, max-age=31536000, immutable';
/** Entry bundles are private: a shared cache must never keep them. */
const PRIVATE_IMMUTABLE = 'private, max-age=31536000, immutable';

export function ledgerRoutes(deps: { ledger: Ledger; permissions: Permissions }): RouteDef[] {
  const { ledger, permissions } = deps;
  return [
    route({
      method: 'GET',
      url: '/v1/ledger/checkpoint',
      summary: 'The latest signed checkpoint (C2SP signed note)',
      tags: ['ledger'],
      auth: 'none',
      produces: 'text/plain; charset=utf-8',
      handler: async ({ reply }) => {
        const cp = (await ledger.latestCheckpoint()) ?? (await ledger.checkpoint());
        reply.header('cache-control', 'no-cache');
        return cp.note;
      },
    }),
    route({
      method: 'GET',
      url: '/v1/ledger/public-key',
      summary: "The log's verifier key (golang.org/x/mod/sumdb/note vkey form)",
      tags: ['ledger'],
      auth: 'none',
      response: PublicKeyResponse,
      handler: async () => ({ origin: ledger.origin, algorithm: 'ed25519' as const, vkey: ledger.vkey() }),
    }),
    route({
      method: 'GET',
      url: '/v1/ledger/proof/inclusion',
      summary: 'Inclusion proof of an entry, by index or leaf hash (RFC 9162 §2.1.3)',
      tags: ['ledger'],
      auth: 'none',
      query: InclusionQuery,
      response: InclusionResponse,
      handler: async ({ query }) => {
        const q: { index?: number; leafHash?: string; size?: number } = {};
        if (query.index !== undefined) q.index = query.index;
        if (query.leaf !== undefined) q.leafHash = query.leaf.toLowerCase();
        if (query.size !== undefined) q.size = query.size;
        return ledger.inclusionProof(q);
      },
    }),
    route({
      method: 'GET',
      url: '/v1/ledger/proof/consistency',
      summary: 'Consistency proof between two tree sizes (RFC 9162 §2.1.4)',
      tags: ['ledger'],
      auth: 'none',
      query: ConsistencyQuery,
      response: ConsistencyResponse,
      handler: async ({ query }) => ledger.consistencyProof(query.from, query.to),
    }),
    route({
      method: 'GET',
      url: '/v1/ledger/tile/entries/*',
      summary: 'C2SP tlog-tiles entry bundles tile/entries/<N>[.p/<W>] (privacy, audit and security roles)',
      tags: ['ledger'],
      auth: 'actor',
      params: z.object({ '*': z.string().max(128) }),
      produces: 'application/octet-stream',
      handler: async ({ principal, params, reply }) => {
        await permissions.require(principal, 'ledger.read_entries');
        const t = parseTilePath(`entries/${params['*']}`);
        const body = await ledger.entryBundle(t.index, t.width);
        reply.header('cache-control', PRIVATE_IMMUTABLE);
        return body;
      },
    }),
    route({
      method: 'GET',
      url: '/v1/ledger/tile/*',
      summary: 'C2SP tlog-tiles hash tiles tile/<L>/<N>[.p/<W>] (public)',
      tags: ['ledger'],
      auth: 'none',
      params: z.object({ '*': z.string().max(128) }),
      produces: 'application/octet-stream',
      handler: async ({ params, reply }) => {
        const t = parseTilePath(params['*']);
        // Entry bundles have their own, authenticated route; never serve one here.
        if (t.level === 'entries') throw ledgerError('LEDGER_TILE_NOT_FOUND');
        const body = await ledger.tile(t.level, t.index, t.width);
        reply.header('cache-control', IMMUTABLE);
        return body;
      },
    }),
  ];
}
