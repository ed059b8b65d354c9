import { describe, expect, it } from 'vitest';
import { parseLeakFile, parsePiece, planLeakFile } from './leakfile.js';

/*
 * Threat: a leaked file cut into pieces for the matching threads reads differently from the whole
 * (a record split at a line break inside quotes, a header taken for a row, a line lost at a cut),
 * so that rows are dropped or invented and the trace names the wrong reader.
 */
const sample = [
  '姓名,手机号,身份证号,公司',
  '张伟,138 0013 8000,110101199003074514,"华信科技有限公司"',
  '王芳,"+86 13800138001","11010119900307451x","东方贸易\n有限公司"',
  '',
  '李娜,138****8002,,"恒达集团, 北京"',
  '"刘""洋""",13800138003,,',
  '陈静,,,远景工作室',
  'x,y',
  ...Array.from({ length: 20 }, (_, i) => `赵敏,1380013${String(8100 + i)},,"远景工作室"`),
].join('\r\n');

async function viaPieces(text: string, chars: number) {
  const plan = planLeakFile(Buffer.from(text), chars)!;
  return plan.pieces.flatMap((p, i) =>
    parsePiece(p, plan, i === 0 && plan.skipHeader, i === plan.pieces.length - 1),
  );
}

describe('leaked file in pieces', () => {
  it('gives the rows of the whole file, whatever the piece size', async () => {
    const texts = [
      sample,
      sample.replaceAll('\r\n', '\n'),
      `${sample}\n`,
      ['13800138000', '', '张伟 13800138001', '110101199003074514', ''].join('\n'),
      ['手机', '13800138000', '13800138001'].join('\n'),
    ];
    for (const text of texts) {
      const whole = (await parseLeakFile(Buffer.from(text))).rows.map((r) => r.values);
      for (const chars of [1, 7, 30, 1000]) expect(await viaPieces(text, chars)).toEqual(whole);
    }
  });

  it('cuts only at record ends outside quotes', () => {
    const plan = planLeakFile(Buffer.from(sample), 1)!;
    expect(plan.format).toBe('csv');
    expect(plan.skipHeader).toBe(true);
    expect(plan.pieces.join('')).toBe(sample);
    expect(plan.pieces.some((p) => p.startsWith('有限公司'))).toBe(false);
  });

  it('leaves XLSX and JSON to the whole-file parser', () => {
    expect(planLeakFile(Buffer.from('[{"mobile":"13800138000"}]'))).toBeUndefined();
    expect(planLeakFile(Buffer.from([0x50, 0x4b, 0x03, 0x04, 0]))).toBeUndefined();
  });
});
