import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { RecordSizeGuard, TOO_LARGE_SENTINEL } from './guard.js';

async function run(input: string, limit: number, chunk: number): Promise<string> {
  const bytes = Buffer.from(input, 'utf8');
  const parts: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += chunk) parts.push(bytes.subarray(i, i + chunk));
  const out: Buffer[] = [];
  for await (const b of Readable.from(parts).pipe(new RecordSizeGuard(limit))) out.push(b as Buffer);
  return Buffer.concat(out).toString('utf8');
}

const sentinel = (column: number, newlines: number) =>
  `"${TOO_LARGE_SENTINEL}${column}${'\n'.repeat(newlines)}"\n`;

describe('RecordSizeGuard', () => {
  const small = 'external_id,name\r\nC1,"a, ""quoted""\nname"\r\nC2,张三\r\n';

  it('passes records under the limit through unchanged, however the input is chunked', async () => {
    for (const chunk of [1, 2, 3, 7, 64, 4096]) expect(await run(small, 1000, chunk)).toBe(small);
  });

  it('replaces an oversized record by a sentinel naming its column and keeping its line count', async () => {
    const big = 'x'.repeat(5000);
    const input = `external_id,name,mobile\nC1,ok,1\nC2,"${big}\n${big}\n${big}",2\nC3,ok,3\n`;
    const expected = `external_id,name,mobile\nC1,ok,1\n${sentinel(1, 2)}C3,ok,3\n`;
    for (const chunk of [1, 13, 1000, 100_000]) expect(await run(input, 4096, chunk)).toBe(expected);
  });

  it('ends the sentinel with the line ending the dropped record had (the parser expects one kind)', async () => {
    const big = 'z'.repeat(3000);
    expect(await run(`a,b\r\nc,"${big}"\r\nd,e\r\n`, 1024, 500)).toBe(
      `a,b\r\n"${TOO_LARGE_SENTINEL}1"\r\nd,e\r\n`,
    );
  });

  it('handles an oversized unquoted cell and an oversized last record without newline', async () => {
    const big = 'y'.repeat(3000);
    expect(await run(`a,b\n${big},1\nc,d\n`, 1024, 100)).toBe(`a,b\n${sentinel(0, 0)}c,d\n`);
    expect(await run(`a,b\nc,${big}`, 1024, 100)).toBe(`a,b\n${sentinel(1, 0)}`);
  });

  it('does not let a stray quote swallow the records after it', async () => {
    const rest = Array.from({ length: 200 }, (_, i) => `C${i},plain value ${i}\n`).join('');
    for (const bad of ['C,"bad"quote\n', 'C,un"quoted\n', 'C,"x"\r\n']) {
      const input = `a,b\n${bad}${rest}`;
      expect(await run(input, 64, 7)).toBe(input);
    }
  });

  it('counts the bytes it read', async () => {
    const g = new RecordSizeGuard(100);
    for await (const _ of Readable.from([Buffer.from(small)]).pipe(g)) void _;
    expect(g.bytes).toBe(Buffer.byteLength(small));
  });
});
