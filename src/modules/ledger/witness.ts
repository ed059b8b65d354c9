import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import { isAppError } from '../../lib/errors.js';
import { ledgerError } from './ledger.errors.js';
import { verifyConsistency } from './merkle.js';
import { formatVkey, type NoteVerifier, parseVkey, verifyCheckpoint } from './note.js';

/**
 * A witness: polls a log's checkpoint, checks its signature with a pinned key and checks that it
 * extends the last checkpoint it saw (a consistency proof fetched from the log, verified locally).
 * A log that shows one history to the witness and another to someone else (a split view), or that
 * rewrites its past, cannot pass this check against a witness that saw the earlier tree. The state
 * file is the witness's memory; keep it outside the log operator's reach.
 */
const StateSchema = z.object({
  format: z.literal('custodian-witness/1'),
  url: z.string(),
  vkey: z.string(),
  origin: z.string(),
  size: z.number().int().min(0),
  root: z.string(),
  note: z.string(),
  seenAt: z.string(),
  history: z.array(z.object({ size: z.number().int().min(0), root: z.string(), seenAt: z.string() })),
});

export type WitnessState = z.infer<typeof StateSchema>;

export interface WatchOptions {
  url: string;
  statePath: string;
  /** Verifier key; without it the key pinned in the state file is used, or pinned on first contact. */
  key?: string;
  /** Bearer token for the proof endpoint. */
  token?: string;
  fetch?: typeof fetch;
  now?: () => Date;
}

export type WatchResult =
  | { ok: true; size: number; previousSize: number | null; pinnedKey: boolean; advanced: boolean }
  | { ok: false; code: string; message: string; size?: number; previousSize?: number | null };

const HISTORY = 1000;

function readState(path: string): WitnessState | undefined {
  if (!existsSync(path)) return undefined;
  try {
    return StateSchema.parse(JSON.parse(readFileSync(path, 'utf8')));
  } catch (e) {
    throw ledgerError('LEDGER_WITNESS_STATE_INVALID', { cause: e });
  }
}

function writeState(path: string, state: WitnessState): void {
  // Write-then-rename: a crash never leaves a half-written memory of what the witness saw.
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, path);
}

async function get(f: typeof fetch, url: string, token?: string): Promise<Response> {
  let res: Response;
  try {
    res = await f(url, {
      headers: token ? { authorization: `Bearer ${token}` } : {},
      signal: AbortSignal.timeout(15_000),
    });
  } catch (e) {
    throw ledgerError('LEDGER_WITNESS_FETCH_FAILED', { cause: e });
  }
  if (!res.ok) throw ledgerError('LEDGER_WITNESS_FETCH_FAILED', { details: { status: res.status } });
  return res;
}

export async function watchOnce(opts: WatchOptions): Promise<WatchResult> {
  const f = opts.fetch ?? fetch;
  const base = opts.url.replace(/\/+$/, '');
  const now = (opts.now ?? (() => new Date()))().toISOString();
  try {
    const state = readState(opts.statePath);
    let verifier: NoteVerifier;
    let pinnedKey = false;
    if (opts.key !== undefined) {
      verifier = parseVkey(opts.key);
      if (state && state.vkey !== opts.key) {
        throw ledgerError('LEDGER_WITNESS_STATE_INVALID', {
          message: 'The key differs from the one pinned in the state file.',
        });
      }
    } else if (state) {
      verifier = parseVkey(state.vkey);
    } else {
      // Trust on first use: pin the key the log presents now; every later run holds the log to it.
      const body = (await (await get(f, `${base}/v1/ledger/public-key`)).json()) as { vkey?: unknown };
      if (typeof body.vkey !== 'string') throw ledgerError('LEDGER_KEY_INVALID');
      verifier = parseVkey(body.vkey);
      pinnedKey = true;
    }
    const note = await (await get(f, `${base}/v1/ledger/checkpoint`)).text();
    const cp = verifyCheckpoint(note, verifier, state?.origin);
    const rootB64 = cp.root.toString('base64');
    let advanced = true;
    if (state) {
      const oldRoot = Buffer.from(state.root, 'base64');
      if (cp.size < state.size) {
        throw ledgerError('LEDGER_SPLIT_VIEW', {
          message: `The log presented a tree of ${cp.size} entries after one of ${state.size}.`,
          details: { size: cp.size, previousSize: state.size },
        });
      }
      if (cp.size === state.size) {
        if (!cp.root.equals(oldRoot)) {
          throw ledgerError('LEDGER_SPLIT_VIEW', {
            message: `The log presented two different trees of ${cp.size} entries.`,
            details: { size: cp.size, previousSize: state.size },
          });
        }
        advanced = false;
      } else if (state.size > 0) {
        const res = await get(
          f,
          `${base}/v1/ledger/proof/consistency?from=${state.size}&to=${cp.size}`,
          opts.token,
        );
        const body = (await res.json()) as { proof?: unknown };
        const proof = Array.isArray(body.proof) ? body.proof : [];
        const ok =
          proof.every((h) => typeof h === 'string' && /^[0-9a-f]{64}$/i.test(h)) &&
          verifyConsistency({
            size1: state.size,
            size2: cp.size,
            root1: oldRoot,
            root2: cp.root,
            proof: proof.map((h) => Buffer.from(h as string, 'hex')),
          });
        if (!ok) {
          throw ledgerError('LEDGER_SPLIT_VIEW', {
            message: `The tree of ${cp.size} entries does not extend the tree of ${state.size} seen before.`,
            details: { size: cp.size, previousSize: state.size },
          });
        }
      }
    }
    const history = [
      ...(state?.history ?? []),
      ...(advanced ? [{ size: cp.size, root: rootB64, seenAt: now }] : []),
    ];
    writeState(opts.statePath, {
      format: 'custodian-witness/1',
      url: base,
      vkey: opts.key ?? state?.vkey ?? formatVkey(verifier.name, verifier.publicKeyRaw),
      origin: cp.origin,
      size: cp.size,
      root: rootB64,
      note,
      seenAt: now,
      history: history.slice(-HISTORY),
    });
    return { ok: true, size: cp.size, previousSize: state ? state.size : null, pinnedKey, advanced };
  } catch (e) {
    if (!isAppError(e)) throw e;
    const d = (e.details ?? {}) as { size?: number; previousSize?: number };
    return {
      ok: false,
      code: e.code,
      message: e.message,
      ...(d.size !== undefined ? { size: d.size } : {}),
      ...(d.previousSize !== undefined ? { previousSize: d.previousSize } : {}),
    };
  }
}
