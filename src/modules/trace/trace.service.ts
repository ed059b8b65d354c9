import { availableParallelism } from 'node:os';
import type { Kysely } from 'kysely';
import type { DbExecutor, Recorder } from '../../lib/audit.js';
import type { Clock } from '../../lib/clock.js';
import { deriveKey, type Keyring, open, seal } from '../../lib/crypto/index.js';
import { type IdSource, randomId } from '../../lib/ids.js';
import type { LookupHasherInit } from '../vault/index.js';
import {
  LEAK_FIELDS,
  type LeakField,
  type LeakFormat,
  type LeakRow,
  parseLeakFile,
  planLeakFile,
} from './leakfile.js';
import {
  createMatchPool,
  emptyTally,
  type MatchPool,
  matchThreaded,
  pick,
  type Tally,
} from './match.threads.js';
import { type CandidateRef, type Scored, score } from './score.js';
import { traceError } from './trace.errors.js';
import * as repo from './trace.repo.js';

/**
 * Trace: from a leaked file, a wave of complaints or canary trips to the actors and recipients whose
 * access explains them, ranked by likelihood ratio with a p-value and the evidence (access events and
 * disclosures with ledger inclusion proofs to a signed checkpoint). See docs/trace.md.
 */
export interface Complaint {
  /** How the complainant is identified: an external id, or a contact the vault indexes. */
  externalId?: string | undefined;
  mobile?: string | undefined;
  email?: string | undefined;
  idNumber?: string | undefined;
  /** When the call or message came (ISO-8601). */
  at: string;
  /** Which fields the caller knew (name, mobile, company, …). */
  knew: readonly string[];
  /** The company the caller named, if any (kept as a flag: it is PI of the complainant's employer). */
  companyNamed?: boolean | undefined;
}

export interface TraceInput {
  /** The leaked file's bytes (CSV, XLSX, JSON or text). */
  file?: Buffer | undefined;
  complaints?: readonly Complaint[] | undefined;
  /** Include canary trips in the window as leaked rows. */
  trips?: boolean | undefined;
  since?: string | undefined;
  /** Exposure after this instant cannot explain the leak (default: the latest complaint, or now). */
  until?: string | undefined;
  by?: string | null | undefined;
  /** Attach ledger inclusion proofs to the evidence (default true). */
  proofs?: boolean | undefined;
  /** Keep the run (sealed input, result, ledger entry). Default true; the simulator's trials say false. */
  store?: boolean | undefined;
}

export interface EvidenceItem {
  kind: 'access' | 'disclosure';
  subject: string;
  at: string;
  /** Access event id, or disclosure id. */
  ref: string;
  actor?: string;
  recipient?: string;
  views?: Record<string, string>;
  leafHash: string | null;
  ledgerIndex?: number;
  proof?: string[];
}

export interface RankedCandidate extends Omit<Scored, 'members'> {
  rank: number;
  members: CandidateRef[];
  evidence: EvidenceItem[];
  verdict: string;
}

export interface TraceSummary {
  rows: number;
  matched: number;
  unmatched: number;
  ambiguous: number;
  nameOnly: number;
  subjects: number;
  population: number;
  candidates: number;
  fields: { field: string; views: string[] }[];
  window: { since: string | null; until: string };
  top: { key: string; llr: number; log10P: number } | null;
}

export interface TraceResult {
  id: string;
  createdAt: string;
  createdBy: string | null;
  inputs: string[];
  format: string | null;
  summary: TraceSummary;
  candidates: RankedCandidate[];
  checkpoint: { size: number; note: string } | null;
  inputErased: boolean;
  eraseAfter: string;
}

export interface TraceListItem {
  id: string;
  createdAt: string;
  createdBy: string | null;
  inputs: string[];
  summary: TraceSummary;
  inputErased: boolean;
}

export interface TraceDeps {
  db: Kysely<any>;
  clock: Clock;
  keyring: Keyring;
  ids?: IdSource;
  record?: Recorder;
  /** The vault's door: bulk blind-index lookup, external ids, the population. */
  vault: {
    lookupMany(field: string, values: readonly string[]): Promise<Map<string, string[]>>;
    resolveExternalIds(ids: readonly string[]): Promise<Map<string, string>>;
    countLive(): Promise<number>;
    readonly fieldNames: readonly string[];
    readonly searchable: readonly string[];
    /**
     * For matching a large file in worker threads: what a thread needs to hash as the vault does
     * (catalog specs, the key file's path — never key bytes), undefined without a key file; and the
     * probe for hashes computed there.
     */
    lookupHasherInit?(): LookupHasherInit | undefined;
    lookupHashed?(field: string, hashes: readonly Buffer[]): Promise<Map<string, string[]>>;
    /** Today (YYYYMMDD) as the vault's field checks take it. */
    lookupToday?(): string;
  };
  /** Matching threads for a large file (default: 2 on a machine with 2 cores or more, else 0). */
  matchThreads?: number;
  /** Files at least this large are matched in threads (default 1 MiB; smaller ones in this thread). */
  matchThreadsMinBytes?: number;
  /** Characters per piece a matching thread parses at once (default 256 Ki). */
  matchPieceChars?: number;
  /** The ledger's door: proofs to a signed checkpoint. */
  ledger?: {
    integrate(): Promise<unknown>;
    checkpoint(): Promise<{ size: number; note: string }>;
    inclusionProof(q: { leafHash: string; size: number }): Promise<{ index: number; proof: string[] }>;
  };
  /** Days the uploaded file is kept (sealed) before it is erased. Default 30. */
  retentionDays?: number;
  /** How many distinct canary mobile numbers exist (the monitored range): guessing one is 1 in this. */
  canarySpace?: number;
}

const TOP_FULL = 12;
const EVIDENCE_PER_CANDIDATE = 25;
const EVIDENCE_CANDIDATES = 5;

function tallyOf(rows: readonly LeakRow[], into: Tally = emptyTally()): Tally {
  for (const r of rows) {
    into.rows++;
    for (const f of LEAK_FIELDS) {
      const v = r.values[f];
      if (!v) continue;
      if (v.masked) into.masked[f]++;
      else into.plain[f]++;
    }
  }
  return into;
}

function majority(t: Tally): { field: string; views: ('plain' | 'masked')[] }[] {
  const needs: { field: string; views: ('plain' | 'masked')[] }[] = [];
  for (const f of LEAK_FIELDS) {
    const plain = t.plain[f];
    const masked = t.masked[f];
    if (plain * 2 >= t.rows && plain > 0) needs.push({ field: f, views: ['plain'] });
    else if ((plain + masked) * 2 >= t.rows && plain + masked > 0)
      needs.push({ field: f, views: ['plain', 'masked'] });
  }
  return needs;
}

function viewsOk(views: Record<string, string>, needs: readonly repo.FieldNeed[]): boolean {
  for (const n of needs) if (!n.views.includes((views[n.field] ?? 'deny') as 'plain')) return false;
  return true;
}

export type Trace = ReturnType<typeof createTrace>;

export function createTrace(deps: TraceDeps) {
  const ids = deps.ids ?? randomId;
  const retentionDays = deps.retentionDays ?? 30;
  const uploadKey = deriveKey(deps.keyring, 'trace/uploads/v1');

  /** Leaked rows → subject ids through the blind index (no decryption). */
  async function match(rows: readonly LeakRow[]) {
    const searchable = LEAK_FIELDS.filter((f) => deps.vault.searchable.includes(f));
    const found = new Map<LeakField, Map<string, string[]>>();
    for (const f of searchable) {
      const values = [
        ...new Set(rows.map((r) => r.values[f]?.value).filter((v): v is string => !!v && !r_masked(v))),
      ];
      found.set(f, values.length ? await deps.vault.lookupMany(f, values) : new Map());
    }
    const subjects = new Set<string>();
    let unmatched = 0;
    let ambiguous = 0;
    let nameOnly = 0;
    const matchedRows: LeakRow[] = [];
    const lists: (readonly string[])[] = [];
    for (const r of rows) {
      let any = false;
      lists.length = 0;
      for (const f of searchable) {
        const v = r.values[f];
        if (!v || v.masked) continue;
        any = true;
        const ids = found.get(f)?.get(v.value);
        if (ids) lists.push(ids);
      }
      if (!any) {
        nameOnly++;
        unmatched++;
        continue;
      }
      if (lists.length === 0) {
        unmatched++;
        continue;
      }
      const subject = pick(lists);
      if (subject === undefined) {
        ambiguous++;
        continue;
      }
      subjects.add(subject);
      matchedRows.push(r);
    }
    return { subjects, unmatched, ambiguous, nameOnly, matchedRows };
  }
  const r_masked = (v: string) => v.includes('*');

  const threads = deps.matchThreads ?? (availableParallelism() > 1 ? 2 : 0);
  const threadsMinBytes = deps.matchThreadsMinBytes ?? 1024 * 1024;

  /**
   * A leaked file → matched subjects: a large delimited or text file in matching threads
   * (match.threads.ts) when the vault can hash there; otherwise parsed and matched in this thread.
   * Both resolve rows alike (tested: same summary and ranking).
   */
  let pool: MatchPool | undefined;

  async function matchFile(file: Buffer) {
    const { lookupHasherInit, lookupHashed, lookupToday } = deps.vault;
    const hasher = threads > 0 && file.length >= threadsMinBytes ? lookupHasherInit?.() : undefined;
    const plan = hasher && lookupHashed && lookupToday ? planLeakFile(file, deps.matchPieceChars) : undefined;
    if (hasher && plan && lookupHashed && lookupToday) {
      const fields = LEAK_FIELDS.filter((f) => deps.vault.searchable.includes(f));
      pool ??= createMatchPool(() => ({ hasher, fields }), threads);
      const m = await matchThreaded(plan, { pool, fields, today: lookupToday(), lookupHashed });
      return { format: plan.format as LeakFormat, ...m };
    }
    const parsed = await parseLeakFile(file);
    const m = await match(parsed.rows);
    return { format: parsed.format, rows: parsed.rows.length, tally: tallyOf(m.matchedRows), ...m };
  }

  async function complaintsToRows(complaints: readonly Complaint[]) {
    const subjects = new Set<string>();
    let unmatched = 0;
    const rows: LeakRow[] = [];
    const byExt = await deps.vault.resolveExternalIds(
      complaints.map((c) => c.externalId).filter((x): x is string => !!x),
    );
    const lookups: Record<string, string[]> = { mobile: [], email: [], id_number: [] };
    for (const c of complaints) {
      if (c.mobile) lookups.mobile!.push(c.mobile);
      if (c.email) lookups.email!.push(c.email);
      if (c.idNumber) lookups.id_number!.push(c.idNumber);
    }
    const found = new Map<string, Map<string, string[]>>();
    for (const [f, vs] of Object.entries(lookups))
      if (vs.length && deps.vault.searchable.includes(f)) found.set(f, await deps.vault.lookupMany(f, vs));
    complaints.forEach((c, i) => {
      const id =
        (c.externalId && byExt.get(c.externalId)) ||
        (c.mobile && found.get('mobile')?.get(c.mobile)?.[0]) ||
        (c.email && found.get('email')?.get(c.email)?.[0]) ||
        (c.idNumber && found.get('id_number')?.get(c.idNumber)?.[0]);
      if (!id) {
        unmatched++;
        return;
      }
      subjects.add(id);
      const values: LeakRow['values'] = {};
      for (const f of c.knew)
        if ((LEAK_FIELDS as readonly string[]).includes(f))
          values[f as LeakField] = { value: '', masked: false };
      if (c.companyNamed) values.company = { value: '', masked: false };
      rows.push({ line: i + 1, values });
    });
    return { subjects, unmatched, rows };
  }

  async function evidenceFor(
    c: Scored,
    reads: readonly repo.ReadRow[],
    disclosed: readonly repo.DisclosedRow[],
    needs: readonly repo.FieldNeed[],
    leaked: ReadonlySet<string>,
  ): Promise<EvidenceItem[]> {
    const out: EvidenceItem[] = [];
    const actors = new Set(c.members.filter((m) => m.kind === 'actor').map((m) => m.id));
    const recipients = new Set(c.members.filter((m) => m.kind === 'recipient').map((m) => m.id));
    // Canary hits and exclusive subjects first: they carry the most weight.
    const weight = (s: string) => (c.canaryHits.includes(s) ? 0 : c.exclusive.includes(s) ? 1 : 2);
    const rs = reads
      .filter((r) => actors.has(r.actor_id) && leaked.has(r.subject_id))
      .map((r) => ({ r, v: JSON.parse(r.views) as Record<string, string> }))
      .filter((x) => viewsOk(x.v, needs))
      .sort((a, b) => weight(a.r.subject_id) - weight(b.r.subject_id) || a.r.at.localeCompare(b.r.at));
    const perSubject = new Set<string>();
    for (const { r, v } of rs) {
      if (perSubject.has(`${r.actor_id}/${r.subject_id}`)) continue;
      perSubject.add(`${r.actor_id}/${r.subject_id}`);
      out.push({
        kind: 'access',
        subject: r.subject_id,
        at: r.at,
        ref: r.id,
        actor: r.actor_id,
        views: v,
        leafHash: r.leaf_hash,
      });
      if (out.length >= EVIDENCE_PER_CANDIDATE) break;
    }
    for (const d of disclosed) {
      if (out.length >= EVIDENCE_PER_CANDIDATE * 2) break;
      if (!recipients.has(d.recipient_id) || !leaked.has(d.subject_id)) continue;
      // The disclosure's own ledger handle: the 'disclose' access event written with it.
      const ev = reads.find(
        (r) => r.action === 'disclose' && r.subject_id === d.subject_id && r.at === d.created_at,
      );
      out.push({
        kind: 'disclosure',
        subject: d.subject_id,
        at: d.created_at,
        ref: d.disclosure_id,
        recipient: d.recipient_id,
        leafHash: ev?.leaf_hash ?? null,
      });
    }
    return out;
  }

  function verdictOf(c: Scored): string {
    if (c.canaryHits.length > 0 && c.log10P < -6)
      return `named by ${c.canaryHits.length} canary/canaries placed only in its view`;
    if (c.log10P < -6) return 'the leak is explained by this candidate and by no other (p < 1e-6)';
    if (c.log10P < -3) return 'strong evidence (p < 1e-3), not conclusive';
    if (c.log10P < -2) return 'weak evidence (p < 0.01)';
    if (c.matched === 0) return 'read matched subjects only in views that cannot produce the leaked fields';
    return `no evidence beyond chance${c.bestAlternative ? ` (explained as well by ${c.bestAlternative})` : ''}`;
  }

  async function run(input: TraceInput): Promise<TraceResult> {
    if (!input.file && !input.complaints?.length && !input.trips) throw traceError('TRACE_NO_INPUT');
    const now = deps.clock.now().toISOString();
    const inputs: string[] = [];
    let format: LeakFormat | null = null;
    const tally = emptyTally();
    const subjects = new Set<string>();
    let unmatched = 0;
    let ambiguous = 0;
    let nameOnly = 0;
    let totalRows = 0;
    let until = input.until;
    if (input.file) {
      inputs.push('file');
      const m = await matchFile(input.file);
      format = m.format;
      for (const s of m.subjects) subjects.add(s);
      const t = m.tally;
      tally.rows += t.rows;
      for (const f of LEAK_FIELDS) {
        tally.plain[f] += t.plain[f];
        tally.masked[f] += t.masked[f];
      }
      unmatched += m.unmatched;
      ambiguous += m.ambiguous;
      nameOnly += m.nameOnly;
      totalRows += m.rows;
    }
    if (input.complaints?.length) {
      inputs.push('complaints');
      const c = await complaintsToRows(input.complaints);
      for (const s of c.subjects) subjects.add(s);
      tallyOf(c.rows, tally);
      unmatched += c.unmatched;
      totalRows += input.complaints.length;
      const last = input.complaints
        .map((x) => x.at)
        .sort()
        .at(-1)!;
      if (!until || last > until) until = until ?? last;
    }
    const w: repo.Window = { since: input.since, until: until ?? now };
    if (input.trips) {
      inputs.push('trips');
      for (const t of await repo.trippedCanaries(deps.db, w)) {
        totalRows++;
        subjects.add(t.subject);
      }
    }
    const needs = tally.rows ? majority(tally).filter((n) => deps.vault.fieldNames.includes(n.field)) : [];
    const leaked = [...subjects].sort();

    // Exposure of the leaked subjects, then every candidate's whole window.
    const reads = leaked.length ? await repo.readsOfSubjects(deps.db, leaked, w) : [];
    const disclosed = leaked.length ? await repo.disclosedOfSubjects(deps.db, leaked, w) : [];
    const seen = new Map<string, Set<string>>();
    const refs = new Map<string, CandidateRef>();
    const note = (key: string, ref: CandidateRef, s: string | undefined) => {
      if (!refs.has(key)) refs.set(key, ref);
      const set = seen.get(key) ?? new Set<string>();
      if (s) set.add(s);
      seen.set(key, set);
    };
    for (const r of reads) {
      // A disclosure's reads are made for its recipient (scored as the recipient, below).
      if (r.action === 'disclose') continue;
      const key = `actor:${r.actor_id}`;
      const ok = viewsOk(JSON.parse(r.views) as Record<string, string>, needs);
      note(key, { key, kind: 'actor', id: r.actor_id }, ok ? r.subject_id : undefined);
    }
    for (const d of disclosed) {
      const key = `recipient:${d.recipient_id}`;
      const fields = JSON.parse(d.fields) as string[];
      const ok = needs.every((n) => fields.includes(n.field));
      note(key, { key, kind: 'recipient', id: d.recipient_id }, ok ? d.subject_id : undefined);
    }
    const candidates = [...refs.values()];
    const actorIds = candidates.filter((c) => c.kind === 'actor').map((c) => c.id);
    const recipientIds = candidates.filter((c) => c.kind === 'recipient').map((c) => c.id);
    const sizes = new Map<string, number>();
    for (const [id, n] of await repo.actorSeenCounts(deps.db, actorIds, needs, w))
      sizes.set(`actor:${id}`, n);
    for (const [id, n] of await repo.recipientSeenCounts(deps.db, recipientIds, needs, w))
      sizes.set(`recipient:${id}`, n);
    const canaryRows = leaked.length ? await repo.canariesAmong(deps.db, leaked) : [];
    const canaries = new Map<string, string>();
    for (const c of canaryRows)
      canaries.set(
        c.subject_id,
        c.unique_to_kind === 'actor' ? `actor:${c.unique_to_id}` : `recipient:${c.recipient_id}`,
      );
    const counts = await repo.canaryCounts(deps.db, actorIds, recipientIds);
    const canaryCounts = new Map<string, number>();
    for (const [id, n] of counts.actors) canaryCounts.set(`actor:${id}`, n);
    for (const [id, n] of counts.recipients) canaryCounts.set(`recipient:${id}`, n);
    const population = await deps.vault.countLive();
    // A list not derived from the candidate's view holds a given canary only by guessing its number.
    const canaryCoincidence = Math.min(1, Math.max(totalRows, 1) / (deps.canarySpace ?? 1e7));
    const base = { population, leaked, candidates, seen, sizes, canaries, canaryCounts, canaryCoincidence };
    const first = score({ ...base, maxTested: 0, pairPool: 0 });
    const lead = first.slice(0, TOP_FULL).map((c) => c.members[0]!);
    const leadIds = (kind: CandidateRef['kind']) => lead.filter((r) => r.kind === kind).map((r) => r.id);
    const full = new Map<string, Set<string>>();
    for (const [id, set] of await repo.actorSeenSets(deps.db, leadIds('actor'), needs, w))
      full.set(`actor:${id}`, set);
    for (const [id, set] of await repo.recipientSeenSets(deps.db, leadIds('recipient'), needs, w))
      full.set(`recipient:${id}`, set);
    const scored = score({ ...base, full });

    // Evidence, with inclusion proofs to a signed checkpoint when a ledger is wired.
    const leakedSet = new Set(leaked);
    const ranked: RankedCandidate[] = [];
    for (const [i, c] of scored.entries()) {
      const evidence =
        i < EVIDENCE_CANDIDATES && c.matched > 0
          ? await evidenceFor(c, reads, disclosed, needs, leakedSet)
          : [];
      ranked.push({ ...c, rank: i + 1, evidence, verdict: verdictOf(c) });
    }
    let checkpoint: TraceResult['checkpoint'] = null;
    if (deps.ledger && input.proofs !== false && ranked.some((c) => c.evidence.length)) {
      await deps.ledger.integrate();
      const cp = await deps.ledger.checkpoint();
      checkpoint = { size: cp.size, note: cp.note };
      for (const c of ranked)
        for (const e of c.evidence) {
          if (!e.leafHash) continue;
          try {
            const p = await deps.ledger.inclusionProof({ leafHash: e.leafHash, size: cp.size });
            e.ledgerIndex = p.index;
            e.proof = p.proof;
          } catch {
            // Not yet integrated at this size: the leaf hash is still the handle to prove it later.
          }
        }
    }

    const top = ranked[0];
    const summary: TraceSummary = {
      rows: totalRows,
      matched: totalRows - unmatched - ambiguous,
      unmatched,
      ambiguous,
      nameOnly,
      subjects: leaked.length,
      population,
      candidates: candidates.length,
      fields: needs.map((n) => ({ field: n.field, views: [...n.views] })),
      window: { since: w.since ?? null, until: w.until },
      top: top ? { key: top.key, llr: top.llr, log10P: top.log10P } : null,
    };
    const id = ids('trc');
    const eraseAfter = new Date(Date.parse(now) + retentionDays * 86_400_000).toISOString();
    const result: TraceResult = {
      id,
      createdAt: now,
      createdBy: input.by ?? null,
      inputs,
      format: format,
      summary,
      candidates: ranked,
      checkpoint,
      inputErased: !input.file,
      eraseAfter,
    };
    if (input.store === false) return result;
    const sealed = input.file ? seal(uploadKey, input.file, Buffer.from(`trace/${id}`, 'utf8')) : null;
    await deps.db.transaction().execute(async (trx) => {
      await repo.insertRun(trx, {
        id,
        created_at: now,
        created_by: input.by ?? null,
        inputs: JSON.stringify(inputs),
        input_format: format,
        input_bytes: input.file?.length ?? 0,
        input_sealed: sealed,
        erase_after: eraseAfter,
        erased_at: input.file ? null : now,
        summary: JSON.stringify(summary),
        result: JSON.stringify({ candidates: ranked, checkpoint }),
      });
      await deps.record?.(trx, [
        {
          kind: 'trace.run',
          at: now,
          actor: input.by ?? null,
          attrs: {
            trace: id,
            inputs,
            rows: totalRows,
            subjects: leaked.length,
            candidates: candidates.length,
            top: top?.key ?? null,
            topLog10P: top ? Math.round(top.log10P * 100) / 100 : null,
          },
        },
      ]);
    });
    return result;
  }

  function toResult(r: repo.TraceRunRowLike & { result: string }): TraceResult {
    const body = JSON.parse(r.result) as {
      candidates: RankedCandidate[];
      checkpoint: TraceResult['checkpoint'];
    };
    return {
      id: r.id,
      createdAt: r.created_at,
      createdBy: r.created_by,
      inputs: JSON.parse(r.inputs) as string[],
      format: r.input_format,
      summary: JSON.parse(r.summary) as TraceSummary,
      candidates: body.candidates,
      checkpoint: body.checkpoint,
      inputErased: r.erased_at !== null,
      eraseAfter: r.erase_after,
    };
  }

  return {
    run,
    /** Ends the matching threads, if a large file started them. */
    async close(): Promise<void> {
      await pool?.close();
      pool = undefined;
    },
    /** One stored trace (the incidents and rights modules refer to traces by id). */
    async getTrace(id: string): Promise<TraceResult> {
      const r = await repo.getRun(deps.db, id);
      if (!r) throw traceError('TRACE_NOT_FOUND');
      return toResult(r);
    },
    async list(limit = 100): Promise<TraceListItem[]> {
      return (await repo.listRuns(deps.db, Math.min(limit, 1000))).map((r) => ({
        id: r.id,
        createdAt: r.created_at,
        createdBy: r.created_by,
        inputs: JSON.parse(r.inputs) as string[],
        summary: JSON.parse(r.summary) as TraceSummary,
        inputErased: r.erased_at !== null,
      }));
    },
    /** The uploaded file, decrypted, while it is kept (for the privacy team's review). */
    async input(db: DbExecutor, id: string): Promise<Buffer | null> {
      const r = await repo.getRun(db, id);
      if (!r) throw traceError('TRACE_NOT_FOUND');
      return r.input_sealed ? open(uploadKey, r.input_sealed, Buffer.from(`trace/${id}`, 'utf8')) : null;
    },
    /** Erases uploaded files past their retention (crypto: the sealed bytes are deleted); recorded. */
    async eraseExpired(): Promise<number> {
      const now = deps.clock.now().toISOString();
      const due = await repo.expiredRuns(deps.db, now);
      for (const id of due)
        await deps.db.transaction().execute(async (trx) => {
          await repo.eraseInput(trx, id, now);
          await deps.record?.(trx, [
            { kind: 'trace.input.erased', at: now, actor: null, attrs: { trace: id } },
          ]);
        });
      return due.length;
    },
  };
}
