import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { z } from 'zod';
import { type CommandContext, EXIT } from '../../lib/cli/index.js';
import { formatTrace } from './report.js';
import { type CanaryRisk, canariesNeeded } from './stats.js';
import { traceError } from './trace.errors.js';
import { ComplaintSchema } from './trace.routes.js';
import type { Complaint, Trace } from './trace.service.js';

/**
 * Complaints as JSON (an array of {externalId|mobile|email|idNumber, at, knew[], companyNamed}) or
 * CSV with a header (subject or external_id, mobile, email, id_number, at, knew as "a;b;c",
 * company_named as yes/no).
 */
export function parseComplaints(text: string): Complaint[] {
  const t = text.trim();
  if (t.startsWith('[')) {
    let doc: unknown;
    try {
      doc = JSON.parse(t);
    } catch (e) {
      throw traceError('TRACE_COMPLAINTS_INVALID', { cause: e });
    }
    const parsed = z.array(ComplaintSchema).safeParse(doc);
    if (!parsed.success)
      throw traceError('TRACE_COMPLAINTS_INVALID', {
        details: { path: parsed.error.issues[0]?.path.join('.') },
      });
    return parsed.data;
  }
  const lines = t.split(/\r?\n/).filter((l) => l.trim());
  const head = (lines[0] ?? '').split(',').map((h) => h.trim().toLowerCase());
  const col = (names: string[]) => head.findIndex((h) => names.includes(h));
  const ix = {
    ext: col(['external_id', 'externalid', 'subject', 'customer']),
    mobile: col(['mobile', 'phone']),
    email: col(['email']),
    id: col(['id_number', 'idnumber']),
    at: col(['at', 'time', 'called_at']),
    knew: col(['knew', 'fields']),
    company: col(['company_named', 'company']),
  };
  if (ix.at < 0) throw traceError('TRACE_COMPLAINTS_INVALID', { details: { missing: 'at' } });
  return lines.slice(1).map((line, i) => {
    const cells = line.split(',').map((c) => c.trim());
    const get = (k: number) => (k >= 0 ? cells[k] || undefined : undefined);
    const at = get(ix.at);
    if (!at || Number.isNaN(Date.parse(at)))
      throw traceError('TRACE_COMPLAINTS_INVALID', { details: { row: i + 2 } });
    return {
      externalId: get(ix.ext),
      mobile: get(ix.mobile),
      email: get(ix.email),
      idNumber: get(ix.id),
      at: new Date(at).toISOString(),
      knew: (get(ix.knew) ?? 'name;mobile')
        .split(/[;|]/)
        .map((s) => s.trim())
        .filter(Boolean),
      companyNamed: /^(y|yes|true|1)$/i.test(get(ix.company) ?? ''),
    };
  });
}

export function registerTraceCommands(program: Command, ctx: CommandContext<{ trace: Trace }>): void {
  program
    .command('trace')
    .description('trace a leaked file (CSV, XLSX, JSON, text), complaints or canary trips to ranked sources')
    .argument('[file]', 'the leaked file')
    .option('--complaints <file>', 'complaints (JSON or CSV)')
    .option('--trips', 'include canary trips in the window')
    .option('--since <iso>', 'ignore exposure before this instant')
    .option('--until <iso>', 'ignore exposure after this instant (default: now, or the last complaint)')
    .option('--show <id>', 'print a stored trace instead of running one')
    .option('--top <n>', 'candidates in the report', '10')
    .action(
      async (file: string | undefined, o: Record<string, string | boolean | undefined>, cmd: Command) => {
        const out = ctx.output(cmd);
        const app = await ctx.open(cmd);
        try {
          if (o.show) {
            const r = await app.trace.getTrace(String(o.show));
            out.result(formatTrace(r, { top: Number(o.top) }), r);
            return;
          }
          const complaints = o.complaints
            ? parseComplaints(readFileSync(String(o.complaints), 'utf8'))
            : undefined;
          if (!file && !complaints && !o.trips) throw traceError('TRACE_NO_INPUT');
          const r = await app.trace.run({
            ...(file ? { file: readFileSync(file) } : {}),
            ...(complaints ? { complaints } : {}),
            ...(o.trips ? { trips: true } : {}),
            since: o.since as string | undefined,
            until: o.until as string | undefined,
          });
          out.result(formatTrace(r, { top: Number(o.top) }), r);
          process.exitCode = EXIT.ok;
        } finally {
          await app.close();
        }
      },
    );

  program
    .command('canary-sizing')
    .description('how many canaries an export or portfolio needs so a leak of a fraction carries one')
    .option('--fraction <f>', 'leaked fraction to catch (0–1)')
    .option('--confidence <c>', 'probability of catching it (0–1)')
    .option('--risk <level>', 'low | standard | high | critical (sets fraction and confidence)', 'standard')
    .option('--size <n>', 'rows in the export or portfolio (exact, without replacement)')
    .action(async (o: Record<string, string | undefined>, cmd: Command) => {
      const out = ctx.output(cmd);
      const r = canariesNeeded({
        ...(o.fraction ? { fraction: Number(o.fraction) } : {}),
        ...(o.confidence ? { confidence: Number(o.confidence) } : {}),
        risk: (o.risk ?? 'standard') as CanaryRisk,
        ...(o.size ? { size: Number(o.size) } : {}),
      });
      out.result(
        `${r.canaries} canaries: a leak of ${(r.fraction * 100).toFixed(1)}% carries at least one with probability ${(r.detection * 100).toFixed(2)}% (≥ ${(r.confidence * 100).toFixed(1)}%, ${r.model})`,
        r,
      );
    });
}
