/**
 * Searches raw bytes (database files, a pg_dump) for personal information and keys, for the
 * exposed-database test. Every stored value is checked, not a sample: candidate substrings are
 * cut where such values can start (digit runs, '@', runs of CJK characters) and looked up in sets.
 */
export interface Needles {
  /** 11-digit national mobile numbers (their E.164 form contains them). */
  mobiles: Set<string>;
  /** 18-character ID numbers, upper case. */
  ids: Set<string>;
  /** Lower-case e-mail addresses. */
  emails: Set<string>;
  /** Chinese names (UTF-8 in the files). */
  names: Set<string>;
  /** Raw key bytes: found raw, as hex or as base64. */
  keys: Buffer[];
}

export interface Found {
  kind: 'mobile' | 'id_number' | 'email' | 'name' | 'key';
  offset: number;
}

const isDigit = (b: number) => b >= 0x30 && b <= 0x39;
const isIdChar = (b: number) => isDigit(b) || b === 0x58 || b === 0x78;
const isLocalChar = (b: number) =>
  (b >= 0x61 && b <= 0x7a) ||
  (b >= 0x41 && b <= 0x5a) ||
  isDigit(b) ||
  b === 0x2e ||
  b === 0x5f ||
  b === 0x2b ||
  b === 0x2d;
const isDomainChar = (b: number) =>
  (b >= 0x61 && b <= 0x7a) || (b >= 0x41 && b <= 0x5a) || isDigit(b) || b === 0x2e || b === 0x2d;

export function scan(buf: Buffer, needles: Needles, limit = 20): Found[] {
  const found: Found[] = [];
  const hit = (kind: Found['kind'], offset: number) => {
    if (found.length < limit) found.push({ kind, offset });
  };
  const byLocal = new Map<string, string[]>();
  for (const e of needles.emails) {
    const at = e.lastIndexOf('@');
    const local = e.slice(0, at);
    const list = byLocal.get(local);
    if (list) list.push(e.slice(at + 1));
    else byLocal.set(local, [e.slice(at + 1)]);
  }
  const nameLengths = new Set([...needles.names].map((n) => Buffer.byteLength(n)));
  const n = buf.length;
  let runStart = -1;
  let cjkStart = -1;
  for (let i = 0; i <= n; i++) {
    const b = i < n ? buf[i]! : -1;
    // Runs of digits and X: mobile and ID number windows.
    if (b >= 0 && isIdChar(b)) {
      if (runStart < 0) runStart = i;
    } else if (runStart >= 0) {
      const len = i - runStart;
      if (len >= 11) {
        const run = buf.toString('latin1', runStart, i).toUpperCase();
        for (let s = 0; s + 11 <= len; s++)
          if (needles.mobiles.has(run.slice(s, s + 11))) hit('mobile', runStart + s);
        for (let s = 0; s + 18 <= len; s++)
          if (needles.ids.has(run.slice(s, s + 18))) hit('id_number', runStart + s);
      }
      runStart = -1;
    }
    // '@': e-mail addresses around it.
    if (b === 0x40) {
      let l = i;
      while (l > 0 && i - l < 64 && isLocalChar(buf[l - 1]!)) l--;
      let r = i + 1;
      while (r < n && r - i < 256 && isDomainChar(buf[r]!)) r++;
      for (let s = l; s < i; s++) {
        const domains = byLocal.get(buf.toString('latin1', s, i).toLowerCase());
        if (!domains) continue;
        const right = buf.toString('latin1', i + 1, r).toLowerCase();
        if (domains.some((d) => right.startsWith(d))) hit('email', s);
      }
    }
    // Three-byte UTF-8 sequences with CJK lead bytes (U+4E00–U+9FFF): name windows.
    if (
      b >= 0xe4 &&
      b <= 0xe9 &&
      i + 2 < n &&
      (buf[i + 1]! & 0xc0) === 0x80 &&
      (buf[i + 2]! & 0xc0) === 0x80
    ) {
      if (cjkStart < 0) cjkStart = i;
      i += 2;
      continue;
    }
    if (cjkStart >= 0) {
      const end = i;
      for (const len of nameLengths) {
        for (let s = cjkStart; s + len <= end; s += 3) {
          if (needles.names.has(buf.toString('utf8', s, s + len))) hit('name', s);
        }
      }
      cjkStart = -1;
    }
  }
  for (const k of needles.keys) {
    for (const form of [k, Buffer.from(k.toString('hex')), Buffer.from(k.toString('base64'))]) {
      const at = buf.indexOf(form);
      if (at >= 0) hit('key', at);
    }
  }
  return found;
}

function hexRunEnd(dump: Buffer, from: number): number {
  let j = from;
  while (
    j < dump.length &&
    ((dump[j]! >= 0x30 && dump[j]! <= 0x39) || (dump[j]! >= 0x61 && dump[j]! <= 0x66))
  )
    j++;
  return j;
}

/**
 * A pg_dump with its bytea values (`\\x` + hex) blanked out. Hex text is mostly digits: across
 * a 100 MB dump, some 11-digit window would match one of 100,000 mobile numbers by chance. The
 * bytea values are searched decoded instead (decodeByteaHex), where a leak would be plain bytes.
 */
export function blankByteaHex(dump: Buffer): Buffer {
  const out = Buffer.from(dump);
  for (let i = out.indexOf('\\\\x'); i >= 0; i = out.indexOf('\\\\x', i + 3)) {
    const end = hexRunEnd(out, i + 3);
    out.fill(0x2e, i + 3, end);
    i = end - 3;
  }
  return out;
}

/**
 * The bytea values of a plain-format pg_dump (`\\x` followed by hex in COPY text), decoded, so a
 * value stored as bytes rather than text is searched too.
 */
export function decodeByteaHex(dump: Buffer): Buffer {
  const parts: Buffer[] = [];
  for (let i = dump.indexOf('\\\\x'); i >= 0; i = dump.indexOf('\\\\x', i + 3)) {
    let j = i + 3;
    while (
      j < dump.length &&
      ((dump[j]! >= 0x30 && dump[j]! <= 0x39) || (dump[j]! >= 0x61 && dump[j]! <= 0x66))
    )
      j++;
    parts.push(Buffer.from(dump.toString('latin1', i + 3, j), 'hex'), Buffer.from([0]));
    i = j - 3;
  }
  return Buffer.concat(parts);
}
