import { ed25519Verify } from '../../lib/crypto/index.js';
import { PIPL57_ITEMS } from '../../modules/incidents/index.js';
import { parseVkey } from '../../modules/ledger/index.js';
import type { ScenarioContext } from './common.js';
import type { LoadedOrganisation } from './organisation.js';

/**
 * The incident step every leak scenario ends with: the privacy officer opens an incident (from the
 * alert naming the actor when there is one, otherwise by hand naming him), scopes it from the
 * access events through the API, and drafts the regulator notice. Checked: the scope is exactly the
 * set of records the scenario knows were read (no more, no fewer), the scope statement verifies
 * with the ledger's public key, and the draft carries every PIPL art. 57 item.
 */
export const DRILL_FACTS = {
  cause:
    'An employee account was used to read customer records beyond what its job required; the data left the organisation.',
  harm: 'Unsolicited marketing calls and messages; fraud attempts using the name, phone number and company.',
  measures: [
    'The account was suspended and its API keys revoked.',
    'Access to contact details now requires an assignment and a daily quota.',
  ],
  advice: [
    'Treat callers who claim to be our partners with caution; we never ask for passwords or codes.',
    'You can see who read your record in the privacy portal and complain there.',
  ],
  contact: 'PI protection officer: privacy@example-cloud.cn, +86 21 5555 0100',
};

export function officerOf(loaded: LoadedOrganisation) {
  const e = loaded.org.byRole('privacy_officer')[0];
  return e ? loaded.employees.get(e.external_id) : undefined;
}

export function verifySignedNote(note: string, vkey: string): boolean {
  try {
    const v = parseVkey(vkey);
    const [body, sigs] = note.split('\n\n');
    const m = /^\u2014 (\S+) (\S+)$/.exec((sigs ?? '').trim().split('\n')[0] ?? '');
    if (!body || !m || m[1] !== v.name) return false;
    const raw = Buffer.from(m[2]!, 'base64');
    return (
      raw.readUInt32BE(0) === v.keyHash &&
      ed25519Verify(v.publicKey, Buffer.from(`${body}\n`, 'utf8'), raw.subarray(4))
    );
  } catch {
    return false;
  }
}

export async function incidentFromLedger(
  ctx: ScenarioContext,
  loaded: LoadedOrganisation,
  o: {
    title: string;
    actorId: string;
    expected: ReadonlySet<string>;
    alert?: { id: string; kind: string } | undefined;
  },
): Promise<{ id: string; affected: number } | undefined> {
  const { inst, checks } = ctx;
  const officer = officerOf(loaded);
  if (!officer) {
    checks.notCovered(
      'traced',
      'an incident opens with the affected customers counted exactly',
      'no privacy officer in the organisation',
    );
    return undefined;
  }
  await inst.app.access.drain();
  const opened = await inst.request(officer.apiKey, 'POST', '/v1/incidents', {
    title: o.title,
    ...(o.alert
      ? { source: o.alert.kind === 'canary.tripped' ? 'canary' : 'alert', sourceRef: o.alert.id }
      : { source: 'manual' }),
    facts: DRILL_FACTS,
  });
  if (opened.status !== 201) {
    checks.failed('traced', 'an incident opens', `POST /v1/incidents answered ${opened.status}`);
    return undefined;
  }
  const id = opened.body.id as string;
  const scoped = await inst.request(officer.apiKey, 'POST', `/v1/incidents/${id}/scope`, {
    actors: [o.actorId],
  });
  const scope = scoped.body as { affected: number; events: number; signedNote: string; listSha256: string };
  const got = new Set<string>();
  let after: string | undefined;
  for (;;) {
    const page = await inst.app.incidents.affected(id, { ...(after ? { after } : {}), limit: 10_000 });
    for (const a of page.subjects) got.add(a.subject);
    if (page.subjects.length < 10_000) break;
    after = page.subjects.at(-1)!.subject;
  }
  const extra = [...got].filter((s) => !o.expected.has(s)).length;
  const missing = [...o.expected].filter((s) => !got.has(s)).length;
  const signed = verifySignedNote(scope.signedNote, inst.app.ledger.vkey());
  checks.expect(
    'traced',
    `an incident opens ${o.alert ? `from the alert (${o.alert.kind})` : 'by hand naming the actor'} with the affected customers counted exactly from the ledger`,
    scoped.status === 200 && extra === 0 && missing === 0 && signed,
    `incident ${id}: scope of ${scope.affected} customer(s) over ${scope.events} access event(s) = the ${o.expected.size} records read (${extra} more, ${missing} fewer); the signed statement verifies with the ledger key (list-sha256 ${scope.listSha256?.slice(0, 16)}…)`,
    { incident: id, affected: scope.affected, events: scope.events, listSha256: scope.listSha256 },
  );
  const drafted = await inst.request(officer.apiKey, 'POST', `/v1/incidents/${id}/notify`, {
    action: 'draft',
    audience: 'regulator',
  });
  const draft = drafted.body?.notice?.draft as
    | { missing: string[]; pipl57: Record<string, string | string[]> }
    | undefined;
  const filled = PIPL57_ITEMS.filter((k) => {
    const v = draft?.pipl57[k];
    return Array.isArray(v) ? v.length > 0 : Boolean(v?.trim());
  });
  checks.expect(
    'traced',
    'a notification draft carries every PIPL art. 57 item',
    drafted.status === 200 &&
      ((draft?.missing.length === 0 && filled.length === PIPL57_ITEMS.length) ||
        // Nothing was read (prevention held): there are no categories of PI to name, and only those.
        (scope.affected === 0 &&
          filled.length === PIPL57_ITEMS.length - 1 &&
          !filled.includes('categories' as (typeof PIPL57_ITEMS)[number]))),
    `regulator draft: ${filled.join(', ')} (${filled.length} of ${PIPL57_ITEMS.length}); categories: ${[draft?.pipl57.categories ?? []].flat().join('; ') || `none (${scope.affected} customers affected)`}`,
    { notice: drafted.body?.notice?.id ?? null },
  );
  return { id, affected: scope.affected };
}
