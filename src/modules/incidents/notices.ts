/**
 * Notice drafts built from the incident's facts. What each must carry:
 *
 * - PIPL art. 57 (to the authority and to the individuals): the categories of personal information
 *   concerned, the cause, the possible harm, the remedial measures taken, what the individual can
 *   do to reduce the harm, and a contact.
 * - GDPR art. 33(3) (to the supervisory authority): the nature of the breach with the categories and
 *   approximate number of people and records, the DPO's contact, the likely consequences, the
 *   measures taken or proposed. Art. 34(2) (to the individuals): the same in clear and plain
 *   language, except the counts.
 *
 * A draft lists what is missing instead of inventing it; nothing goes out while anything is.
 */
export interface IncidentFacts {
  /** Categories of PI concerned; when empty, derived from the fields in the scope. */
  categories: string[];
  cause: string;
  harm: string;
  measures: string[];
  /** What a person can do to reduce the harm. */
  advice: string[];
  /** Who to contact (a role and a channel, e.g. the PI protection officer's address). */
  contact: string;
  description: string;
}

export const EMPTY_FACTS: IncidentFacts = {
  categories: [],
  cause: '',
  harm: '',
  measures: [],
  advice: [],
  contact: '',
  description: '',
};

/** PIPL art. 57's items, in the law's order; the check "a draft carries every PIPL 57 field". */
export const PIPL57_ITEMS = ['categories', 'cause', 'harm', 'measures', 'advice', 'contact'] as const;
export type Pipl57Item = (typeof PIPL57_ITEMS)[number];

const FIELD_CATEGORY: Record<string, string> = {
  name: 'name (person_name)',
  mobile: 'mobile phone number',
  phone: 'phone number',
  email: 'e-mail address',
  company: 'company name',
  address: 'postal address',
  id_number: 'resident ID number (sensitive)',
  bank_card: 'bank card number (sensitive)',
  uscc: 'unified social credit code',
};

export function categoriesOf(fields: readonly string[]): string[] {
  return [...new Set(fields)].sort().map((f) => FIELD_CATEGORY[f] ?? f);
}

export interface DraftContext {
  incidentId: string;
  title: string;
  source: { kind: string; ref: string | null };
  awareAt: string;
  grade: string;
  affected: number;
  events: number;
  fields: Record<string, number>;
  views: Record<string, number>;
  /** Signed scope evidence: the list's SHA-256 and the signed note. */
  scope: { version: number; listSha256: string; signedNote: string; ledgerSize: number } | null;
  actions: { kind: string; target: string; outcome: string; at: string }[];
  clocks: { name: string; dueAt: string; status: string }[];
  individuals: { decision: string; reason: string | null };
  facts: IncidentFacts;
}

export interface NoticeDraft {
  audience: 'regulator' | 'individuals' | 'regulator_final';
  incidentId: string;
  /** PIPL 57 items, each filled from the facts (categories from the scope when not given). */
  pipl57: Record<Pipl57Item, string | string[]>;
  /** Items still empty; the notice cannot be submitted or sent until this is empty. */
  missing: Pipl57Item[];
  /** Regulator drafts: GDPR 33(3) and the CAC report's counts and evidence. */
  report?: {
    title: string;
    description: string;
    source: string;
    awareAt: string;
    grade: string;
    affectedPeople: number;
    affectedRecords: number;
    fieldsExposed: Record<string, number>;
    viewsExposed: Record<string, number>;
    evidence: { scopeVersion: number; listSha256: string; ledgerSize: number; signedNote: string } | null;
    actionsTaken: { kind: string; target: string; outcome: string; at: string }[];
    deadlines: { name: string; dueAt: string; status: string }[];
    individuals: { decision: string; reason: string | null };
  };
  /** Individuals: the plain-language text sent to each (no personal data in it). */
  text?: string;
}

export function buildDraft(audience: NoticeDraft['audience'], c: DraftContext): NoticeDraft {
  const f = c.facts;
  const categories = f.categories.length > 0 ? f.categories : categoriesOf(Object.keys(c.fields));
  const pipl57: NoticeDraft['pipl57'] = {
    categories,
    cause: f.cause,
    harm: f.harm,
    measures: f.measures,
    advice: f.advice,
    contact: f.contact,
  };
  const missing = PIPL57_ITEMS.filter((k) => {
    const v = pipl57[k];
    return Array.isArray(v) ? v.length === 0 : v.trim() === '';
  });
  const out: NoticeDraft = { audience, incidentId: c.incidentId, pipl57, missing };
  if (audience === 'individuals') {
    out.text = individualText(pipl57);
  } else {
    out.report = {
      title: c.title,
      description: f.description,
      source: c.source.ref ? `${c.source.kind} ${c.source.ref}` : c.source.kind,
      awareAt: c.awareAt,
      grade: c.grade,
      affectedPeople: c.affected,
      affectedRecords: c.events,
      fieldsExposed: c.fields,
      viewsExposed: c.views,
      evidence: c.scope
        ? {
            scopeVersion: c.scope.version,
            listSha256: c.scope.listSha256,
            ledgerSize: c.scope.ledgerSize,
            signedNote: c.scope.signedNote,
          }
        : null,
      actionsTaken: c.actions,
      deadlines: c.clocks,
      individuals: c.individuals,
    };
  }
  return out;
}

const list = (v: string | string[]) => (Array.isArray(v) ? v.join('; ') : v);

/** The notice each affected person receives (PIPL 57; GDPR 34(2)), the same text for everyone. */
export function individualText(p: NoticeDraft['pipl57']): string {
  return [
    'We are writing to tell you about a personal-information security incident that concerns your record.',
    `Information concerned: ${list(p.categories)}.`,
    `What happened: ${list(p.cause)}`,
    `Possible harm: ${list(p.harm)}`,
    `What we have done: ${list(p.measures)}`,
    `What you can do: ${list(p.advice)}`,
    `Contact: ${list(p.contact)}`,
  ].join('\n');
}

/** A short form for SMS: the same items, with the contact for the full notice. */
export function smsText(p: NoticeDraft['pipl57']): string {
  return `Security notice: your ${list(p.categories)} may have been exposed (${list(p.cause)}). What you can do: ${list(p.advice)}. Contact: ${list(p.contact)}`;
}
