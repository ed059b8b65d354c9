/**
 * Normalising the contact point a telephony or mail gateway reports, so that it matches the hash
 * stored when the canary was planted: a mainland mobile as its 11 digits (a +86 / 0086 / 86 prefix
 * and separators dropped), an e-mail address trimmed and lower-cased.
 */
export type ContactKind = 'mobile' | 'email';

export function normaliseMobile(raw: string): string | undefined {
  let s = raw.trim().replace(/[\s().-]/g, '');
  if (s.startsWith('+86')) s = s.slice(3);
  else if (s.startsWith('0086')) s = s.slice(4);
  else if (s.length === 13 && s.startsWith('86')) s = s.slice(2);
  return /^1\d{10}$/.test(s) ? s : undefined;
}

export function normaliseEmail(raw: string): string | undefined {
  const s = raw.trim().toLowerCase();
  return /^[^\s@]{1,64}@[a-z0-9.-]{1,253}\.[a-z]{2,}$/.test(s) ? s : undefined;
}

export function normaliseContact(raw: string): { kind: ContactKind; value: string } | undefined {
  if (raw.includes('@')) {
    const value = normaliseEmail(raw);
    return value ? { kind: 'email', value } : undefined;
  }
  const value = normaliseMobile(raw);
  return value ? { kind: 'mobile', value } : undefined;
}
