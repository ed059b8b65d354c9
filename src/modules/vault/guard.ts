import { Transform, type TransformCallback } from 'node:stream';

/**
 * Caps the size of one CSV record before the parser sees it. csv-parse buffers a whole record
 * (a 10 MB cell is 10 MB of memory) and its own max_record_size does not resynchronise reliably
 * after a long quoted field, so this pass follows RFC 4180 quoting itself and replaces a record
 * longer than `limit` bytes by a one-cell sentinel record `"\0TOO_LARGE:<column index>\n…"`
 * holding as many newlines as the dropped record had inside quotes, so the parser's line numbers
 * stay true. Memory stays below `limit`.
 *
 * Quoting follows the parser's reading: a quote opens a field only at the field's start; inside
 * one, `""` is a quote and `"` followed by anything but a delimiter closes it (malformed, and the
 * parser rejects that row), so one stray quote cannot swallow the rest of the file. Records end at
 * LF (CRLF included); a bare CR is not a record delimiter.
 */
export const TOO_LARGE_SENTINEL = '\u0000TOO_LARGE:';

const FIELD_START = 0;
const UNQUOTED = 1;
const QUOTED = 2;
/** A quote seen inside a quoted field: the next byte says whether it escaped a quote or closed. */
const QUOTE_IN_QUOTED = 3;

export class RecordSizeGuard extends Transform {
  /** Bytes read so far, for progress. */
  bytes = 0;
  private state = FIELD_START;
  private pending: Buffer[] = [];
  private pendingLength = 0;
  private column = 0;
  private dropping = false;
  private droppedColumn = 0;
  private droppedNewlines = 0;
  /** The previous byte was CR: a dropped record's sentinel ends the way the record did. */
  private lastWasCR = false;

  constructor(private readonly limit: number) {
    super();
  }

  override _transform(chunk: Buffer | string, _encoding: BufferEncoding, callback: TransformCallback): void {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    this.bytes += buf.length;
    const out: Buffer[] = [];
    const n = buf.length;
    let segStart = 0;
    let state = this.state;
    for (let i = 0; i < n; i++) {
      const b = buf[i]!;
      const crBefore = this.lastWasCR;
      this.lastWasCR = b === 0x0d;
      if (state === QUOTED) {
        if (b === 0x22) state = QUOTE_IN_QUOTED;
        else if (b === 0x0a && this.dropping) this.droppedNewlines++;
      } else if (b === 0x0a) {
        // End of record (outside quotes).
        if (this.dropping) {
          // csv-parse learns the line ending from the first line; the sentinel must use it too.
          out.push(this.sentinel(crBefore ? '\r\n' : '\n'));
          this.dropping = false;
        } else {
          for (const p of this.pending) out.push(p);
          out.push(buf.subarray(segStart, i + 1));
        }
        this.pending = [];
        this.pendingLength = 0;
        this.column = 0;
        segStart = i + 1;
        state = FIELD_START;
        continue;
      } else if (b === 0x2c) {
        this.column++;
        state = FIELD_START;
      } else if (state === FIELD_START) {
        state = b === 0x22 ? QUOTED : UNQUOTED;
      } else if (state === QUOTE_IN_QUOTED) {
        state = b === 0x22 ? QUOTED : UNQUOTED;
      }
      if (!this.dropping && this.pendingLength + (i + 1 - segStart) > this.limit) {
        this.startDropping(buf.subarray(segStart, i + 1));
      }
    }
    this.state = state;
    if (!this.dropping && segStart < n) {
      this.pending.push(buf.subarray(segStart));
      this.pendingLength += n - segStart;
    }
    if (out.length > 0) this.push(out.length === 1 ? out[0] : Buffer.concat(out));
    callback();
  }

  override _flush(callback: TransformCallback): void {
    if (this.dropping) this.push(this.sentinel('\n'));
    else if (this.pendingLength > 0) this.push(Buffer.concat(this.pending));
    callback();
  }

  private startDropping(segment: Buffer): void {
    let newlines = 0;
    for (const part of [...this.pending, segment]) {
      for (let j = part.indexOf(0x0a); j >= 0; j = part.indexOf(0x0a, j + 1)) newlines++;
    }
    this.dropping = true;
    this.droppedColumn = this.column;
    this.droppedNewlines = newlines;
    this.pending = [];
    this.pendingLength = 0;
  }

  private sentinel(lineEnd: string): Buffer {
    const text = `"${TOO_LARGE_SENTINEL}${this.droppedColumn}${'\n'.repeat(this.droppedNewlines)}"${lineEnd}`;
    this.droppedNewlines = 0;
    return Buffer.from(text, 'utf8');
  }
}
