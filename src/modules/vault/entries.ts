/**
 * The entry list a subject's row holds its sealed fields (`sealed`) and its blind-index hashes
 * (`lookup_keys`) in: for each entry, sorted by name,
 *
 *   name-length (1 byte) ‖ name (UTF-8) ‖ value-length (4 bytes, big-endian) ‖ value
 *
 * The migration that introduced it builds the same bytes in SQL (db/dialect.ts
 * entryListAggregate). It carries no secret of its own: each sealed value is an AES-256-GCM message
 * whose associated data names its subject and field, so moving one between entries or rows fails
 * to open.
 */
export interface Entry {
  name: string;
  value: Buffer;
}

const MAX_NAME_BYTES = 255;
const MAX_VALUE_BYTES = 0xffff_ffff;

export function encodeEntries(entries: readonly Entry[]): Buffer {
  const sorted = [...entries].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const names = sorted.map((e) => Buffer.from(e.name, 'utf8'));
  let size = 0;
  for (let i = 0; i < sorted.length; i++) {
    const n = names[i]!.length;
    const v = sorted[i]!.value.length;
    if (n === 0 || n > MAX_NAME_BYTES || v > MAX_VALUE_BYTES) throw new RangeError('entry too large');
    if (i > 0 && sorted[i - 1]!.name === sorted[i]!.name) throw new RangeError('duplicate entry name');
    size += 1 + n + 4 + v;
  }
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for (let i = 0; i < sorted.length; i++) {
    const name = names[i]!;
    const value = sorted[i]!.value;
    out[at++] = name.length;
    at += name.copy(out, at);
    out.writeUInt32BE(value.length, at);
    at += 4;
    at += value.copy(out, at);
  }
  return out;
}

/** The entries of an encoded list (values are views into `bytes`), or undefined when it is malformed. */
export function decodeEntries(bytes: Buffer): Entry[] | undefined {
  const out: Entry[] = [];
  let at = 0;
  while (at < bytes.length) {
    const n = bytes[at]!;
    if (n === 0 || at + 1 + n + 4 > bytes.length) return undefined;
    const name = bytes.toString('utf8', at + 1, at + 1 + n);
    at += 1 + n;
    const v = bytes.readUInt32BE(at);
    at += 4;
    if (at + v > bytes.length) return undefined;
    out.push({ name, value: bytes.subarray(at, at + v) });
    at += v;
  }
  return out;
}
