import type { AttrValue, AuditEvent } from '../../lib/audit.js';
import { ledgerError } from './ledger.errors.js';

/**
 * The canonical byte encoding of a ledger entry, version 1:
 *
 *   0x01 ‖ UTF-8( canonical JSON of {actor, at, attrs, kind, purpose, subject} )
 *
 * Canonical JSON is RFC 8785 (JCS) restricted to what an AuditEvent can hold: object keys sorted by
 * UTF-16 code units, no whitespace, strings escaped as ECMAScript JSON.stringify does, numbers in
 * the ECMAScript shortest round-trip form, every one of the six keys present (absent subject and
 * purpose are null, absent attrs is {}). The encoding is computed in the process, never by the
 * database, so SQLite and PostgreSQL store identical bytes and any JCS implementation reproduces
 * them. The version byte lets a later encoding coexist in the same log.
 *
 * Entries carry pseudonymous ids only; the limits below keep attrs to ids, counts and field names
 * and keep every entry under the 65535 bytes an entry bundle can frame (uint16 length prefix).
 */
export const ENTRY_VERSION = 1;
export const MAX_ENTRY_BYTES = 65_535;

const MAX_ID = 256;
const MAX_ATTRS = 64;
const MAX_ATTR_STRING = 1024;
const MAX_ATTR_ARRAY = 1024;
const KIND_RE = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
const ATTR_KEY_RE = /^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,63}$/;
// ISO-8601 UTC as Date.prototype.toISOString writes it (fraction optional, 'Z' required).
// In a /u pattern a valid surrogate pair is one code point, so \p{Cs} matches only lone halves.
const LONE_SURROGATE = /\p{Cs}/u;
const AT_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;

export interface LedgerEvent {
  kind: string;
  at: string;
  actor: string | null;
  subject: string | null;
  purpose: string | null;
  attrs: Record<string, AttrValue>;
}

function invalid(field: string): never {
  throw ledgerError('LEDGER_EVENT_INVALID', { details: { field } });
}

function checkString(v: unknown, field: string, max: number): string {
  // Lone surrogates have no UTF-8 form: JCS (I-JSON) rejects them, and so do we.
  if (typeof v !== 'string' || v.length > max || LONE_SURROGATE.test(v)) invalid(field);
  return v;
}

function checkNullableId(v: unknown, field: string): string | null {
  if (v === undefined || v === null) return null;
  const s = checkString(v, field, MAX_ID);
  if (s.length === 0) invalid(field);
  return s;
}

function checkAttr(v: unknown, field: string): AttrValue {
  if (v === null || typeof v === 'boolean') return v;
  if (typeof v === 'number') {
    // NaN and ±Infinity have no JSON form.
    if (!Number.isFinite(v)) invalid(field);
    return v;
  }
  if (typeof v === 'string') return checkString(v, field, MAX_ATTR_STRING);
  if (Array.isArray(v)) {
    if (v.length > MAX_ATTR_ARRAY) invalid(field);
    return v.map((x) => checkString(x, field, MAX_ATTR_STRING));
  }
  return invalid(field);
}

/** Validates an event and fills `at`; the result is what the ledger encodes. */
export function normaliseEvent(event: AuditEvent, at?: string): LedgerEvent {
  if (typeof event !== 'object' || event === null) invalid('event');
  const kind = checkString(event.kind, 'kind', 128);
  if (!KIND_RE.test(kind)) invalid('kind');
  const when = event.at ?? at;
  if (typeof when !== 'string' || !AT_RE.test(when) || Number.isNaN(Date.parse(when))) invalid('at');
  const attrsIn = event.attrs ?? {};
  if (typeof attrsIn !== 'object' || attrsIn === null || Array.isArray(attrsIn)) invalid('attrs');
  const keys = Object.keys(attrsIn);
  if (keys.length > MAX_ATTRS) invalid('attrs');
  const attrs: Record<string, AttrValue> = {};
  for (const k of keys) {
    if (!ATTR_KEY_RE.test(k)) invalid('attrs');
    attrs[k] = checkAttr((attrsIn as Record<string, unknown>)[k], `attrs.${k}`);
  }
  return {
    kind,
    at: when,
    actor: checkNullableId(event.actor, 'actor'),
    subject: checkNullableId(event.subject, 'subject'),
    purpose: checkNullableId(event.purpose, 'purpose'),
    attrs,
  };
}

// Strings of printable ASCII without '"' or '\\' need no escaping and have no surrogates: the
// common case (ids, kinds, field names) skips JSON.stringify and the surrogate check.
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;
const MAYBE_SURROGATE = /[\ud800-\udfff]/;

function str(v: unknown, field: string, max: number): string {
  if (typeof v !== 'string' || v.length > max) invalid(field);
  if (PLAIN.test(v)) return `"${v}"`;
  if (MAYBE_SURROGATE.test(v) && LONE_SURROGATE.test(v)) invalid(field);
  return JSON.stringify(v);
}

function nullableId(v: unknown, field: string): string {
  if (v === undefined || v === null) return 'null';
  if (v === '') invalid(field);
  return str(v, field, MAX_ID);
}

function attrJson(v: unknown, field: string): string {
  if (v === null) return 'null';
  switch (typeof v) {
    case 'boolean':
      return v ? 'true' : 'false';
    case 'number':
      // NaN and ±Infinity have no JSON form.
      if (!Number.isFinite(v)) invalid(field);
      return JSON.stringify(v);
    case 'string':
      return str(v, field, MAX_ATTR_STRING);
    default: {
      if (!Array.isArray(v) || v.length > MAX_ATTR_ARRAY) return invalid(field);
      let out = '[';
      for (let i = 0; i < v.length; i++) out += (i ? ',' : '') + str(v[i], field, MAX_ATTR_STRING);
      return `${out}]`;
    }
  }
}

let lastAt = '';

/**
 * The canonical JSON of an event, validated and serialised in one pass (no intermediate objects:
 * this runs for every entry on the append path). Key order is written out by hand: actor < at <
 * attrs < kind < purpose < subject, by UTF-16 code units.
 */
function canonicalJson(event: AuditEvent, at: string | undefined): string {
  if (typeof event !== 'object' || event === null) invalid('event');
  const kind = event.kind;
  if (typeof kind !== 'string' || !KIND_RE.test(kind)) invalid('kind');
  const when = event.at ?? at;
  if (when !== lastAt) {
    if (typeof when !== 'string' || !AT_RE.test(when) || Number.isNaN(Date.parse(when))) invalid('at');
    lastAt = when;
  }
  const attrsIn = event.attrs ?? {};
  if (typeof attrsIn !== 'object' || attrsIn === null || Array.isArray(attrsIn)) invalid('attrs');
  const keys = Object.keys(attrsIn);
  if (keys.length > MAX_ATTRS) invalid('attrs');
  keys.sort();
  let attrs = '';
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i] as string;
    if (!ATTR_KEY_RE.test(k)) invalid('attrs');
    attrs += `${i ? ',' : ''}"${k}":${attrJson((attrsIn as Record<string, unknown>)[k], `attrs.${k}`)}`;
  }
  return (
    `{"actor":${nullableId(event.actor, 'actor')},"at":"${when}","attrs":{${attrs}},"kind":"${kind}",` +
    `"purpose":${nullableId(event.purpose, 'purpose')},"subject":${nullableId(event.subject, 'subject')}}`
  );
}

/** Encodes an event (with `at` filled, or taken from `at`) as version-1 entry bytes. */
export function encodeEntry(event: AuditEvent, at?: string): Buffer {
  // The version byte 0x01 is the one-byte UTF-8 encoding of U+0001.
  const out = Buffer.from(`\u0001${canonicalJson(event, at)}`, 'utf8');
  if (out.length > MAX_ENTRY_BYTES)
    throw ledgerError('LEDGER_ENTRY_TOO_LARGE', { details: { bytes: out.length } });
  return out;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function malformed(reason: string): never {
  throw ledgerError('LEDGER_ENTRY_MALFORMED', { details: { reason } });
}

/**
 * Decodes entry bytes. Only canonical bytes are accepted (decoding then re-encoding must give the
 * same bytes), so two different byte strings never decode to the same event.
 */
export function decodeEntry(bytes: Uint8Array): LedgerEvent {
  if (bytes.length < 2 || bytes.length > MAX_ENTRY_BYTES) malformed('length');
  if (bytes[0] !== ENTRY_VERSION) malformed('version');
  let parsed: unknown;
  try {
    parsed = JSON.parse(utf8.decode(bytes.subarray(1)));
  } catch {
    malformed('json');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) malformed('shape');
  const o = parsed as Record<string, unknown>;
  const expected = ['actor', 'at', 'attrs', 'kind', 'purpose', 'subject'];
  if (Object.keys(o).length !== expected.length || !expected.every((k) => k in o)) malformed('shape');
  let event: LedgerEvent;
  try {
    event = normaliseEvent(o as unknown as AuditEvent);
  } catch {
    malformed('event');
  }
  const again = encodeEntry(event);
  if (!again.equals(bytes)) malformed('not canonical');
  return event;
}
