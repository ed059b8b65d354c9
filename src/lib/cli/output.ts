import type { Output } from './context.js';

export function createOutput(
  json: boolean,
  stdout: NodeJS.WritableStream = process.stdout,
  stderr: NodeJS.WritableStream = process.stderr,
): Output {
  return {
    json,
    progress: !json && Boolean((stderr as NodeJS.WriteStream).isTTY),
    result(human, data) {
      if (json) stdout.write(`${JSON.stringify(data ?? null, null, 2)}\n`);
      else if (human) stdout.write(human.endsWith('\n') ? human : `${human}\n`);
    },
    info(line) {
      if (!json) stderr.write(line.endsWith('\n') ? line : `${line}\n`);
    },
  };
}

/** A plain text table for human output. */
export function table(rows: readonly (readonly (string | number)[])[], header?: readonly string[]): string {
  const all = header ? [header, ...rows] : rows;
  const widths: number[] = [];
  for (const r of all) {
    r.forEach((c, i) => {
      widths[i] = Math.max(widths[i] ?? 0, String(c).length);
    });
  }
  const line = (r: readonly (string | number)[]) =>
    r
      .map((c, i) => (typeof c === 'number' ? String(c).padStart(widths[i]!) : String(c).padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  const out = all.map(line);
  if (header) out.splice(1, 0, widths.map((w) => '-'.repeat(w)).join('  '));
  return out.join('\n');
}
