import type { Kysely } from 'kysely';
import type { DbExecutor, Recorder } from '../../lib/audit.js';
import type { Clock } from '../../lib/clock.js';
import { deriveKey, type Keyring, open, seal } from '../../lib/crypto/index.js';
import { type IdSource, randomId } from '../../lib/ids.js';
import { LEAK_FIELDS, type LeakField, type LeakRow, type ParsedLeak, parseLeakFile } from './leakfile.js';
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
  };
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

function majority(rows: readonly LeakRow[]): { field: string; views: ('plain' | 'masked')[] }[] {
  const needs: { field: string; views: ('plain' | 'masked')[] }[] = [];
  for (const f of LEAK_FIELDS) {
    let plain = 0;
    let masked = 0;
    for (const r of rows) {
      const v = r.values[f];
      if (!v) continue;
      if (v.masked) masked++;
      else plain++;
    }
    if (plain * 2 >= rows.length && plain > 0) needs.push({ field: f, views: ['plain'] });
    else if ((plain + masked) * 2 >= rows.length && plain + masked > 0)
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
      // The common row: every matching field names the same one subject (no vote to count).
      const one = lists[0]!.length === 1 ? lists[0]![0]! : undefined;
      if (one !== undefined && lists.every((l) => l.length === 1 && l[0] === one)) {
        subjects.add(one);
        matchedRows.push(r);
        continue;
      }
      const votes = new Map<string, number>();
      for (const l of lists) for (const s of l) votes.set(s, (votes.get(s) ?? 0) + 1);
      const best = Math.max(...votes.values());
      const top = [...votes].filter(([, n]) => n === best);
      if (top.length > 1) {
        ambiguous++;
        continue;
      }
      subjects.add(top[0]![0]);
      matchedRows.push(r);
    }
    return { subjects, unmatched, ambiguous, nameOnly, matchedRows };
  }
  const r_masked = (v: string) => v.includes('*');

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
    let parsed: ParsedLeak | undefined;
    let rows: LeakRow[] = [];
    const subjects = new Set<string>();
    let unmatched = 0;
    let ambiguous = 0;
    let nameOnly = 0;
    let totalRows = 0;
    let until = input.until;
    if (input.file) {
      inputs.push('file');
      parsed = await parseLeakFile(input.file);
      const m = await match(parsed.rows);
      for (const s of m.subjects) subjects.add(s);
      rows = m.matchedRows;
      unmatched += m.unmatched;
      ambiguous += m.ambiguous;
      nameOnly += m.nameOnly;
      totalRows += parsed.rows.length;
    }
    if (input.complaints?.length) {
      inputs.push('complaints');
      const c = await complaintsToRows(input.complaints);
      for (const s of c.subjects) subjects.add(s);
      rows.push(...c.rows);
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
    const needs = rows.length ? majority(rows).filter((n) => deps.vault.fieldNames.includes(n.field)) : [];
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
      format: parsed?.format ?? null,
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
        input_format: parsed?.format ?? null,
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
