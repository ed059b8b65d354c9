import { z } from 'zod';

/**
 * What a notice must declare before anyone can consent to it.
 *
 * - PIPL art. 17: the processor's name and contact, the purposes, the processing methods, the
 *   categories of PI, the retention period, and how to exercise the rights of art. 44–48.
 * - PIPL art. 23: for provision to another processor, the recipient's name and contact, the purpose,
 *   the method and the categories — the `thirdParty` block.
 * - PIPL art. 39: for a transfer abroad, the same about the foreign recipient plus how to exercise
 *   rights against it — the `crossBorder` block (which needs `thirdParty`).
 * - PIPL art. 30: for sensitive PI, why it is necessary and the impact on the person — `sensitive`.
 * - PIPL art. 16: each purpose is marked necessary or optional, so refusing an optional one does
 *   not block the service.
 *
 * The text itself must name the processor and (when there is one) the recipient with their
 * contacts: a declaration the person was never shown would prove nothing.
 */
export const PURPOSE_RE = /^[a-z][a-z0-9_]{0,63}$/;
export const FIELD_RE = /^[a-z][a-z0-9_]{0,63}$/;
export const ID_RE = /^[A-Za-z0-9_.:-]{1,128}$/;
/** A notice id, or `key@version`. */
export const NOTICE_REF_RE = /^[A-Za-z0-9_.:@-]{1,160}$/;

const text = (max = 2000) => z.string().trim().min(1).max(max);
const purposeName = z.string().regex(PURPOSE_RE);
const fieldName = z.string().regex(FIELD_RE);
const list = <T extends z.ZodType>(item: T) => z.array(item).min(1).max(200);

export const NoticeDeclarationsSchema = z.object({
  processor: z.object({ name: text(200), contact: text(500) }),
  purposes: list(z.object({ purpose: purposeName, necessary: z.boolean(), description: text().optional() })),
  methods: list(text(200)),
  categories: list(text(200)),
  /** The catalog fields the notice covers; a consent may only cover these. */
  fields: list(fieldName),
  retention: text(),
  rights: text(),
  thirdParty: z
    .object({
      recipientId: z.string().regex(ID_RE),
      name: text(200),
      contact: text(500),
      purposes: list(purposeName),
      methods: list(text(200)),
      categories: list(text(200)),
      fields: list(fieldName),
    })
    .optional(),
  crossBorder: z
    .object({
      /** ISO 3166-1 alpha-2 code of the destination. */
      jurisdiction: z.string().regex(/^[A-Z]{2}$/),
      rights: text(),
    })
    .optional(),
  sensitive: z.object({ fields: list(fieldName), necessity: text(), impact: text() }).optional(),
});

export type NoticeDeclarations = z.infer<typeof NoticeDeclarationsSchema>;

export const NoticeInputSchema = z
  .object({
    key: z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,63}$/),
    language: z
      .string()
      .regex(/^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$/)
      .default('zh-CN'),
    text: z.string().min(20).max(200_000),
    declarations: NoticeDeclarationsSchema,
  })
  .superRefine((n, ctx) => {
    const d = n.declarations;
    const issue = (path: (string | number)[], message: string) =>
      ctx.addIssue({ code: 'custom', path: ['declarations', ...path], message });
    const shown = (s: string) => n.text.includes(s);
    if (!shown(d.processor.name)) issue(['processor', 'name'], 'not in the notice text');
    if (!shown(d.processor.contact)) issue(['processor', 'contact'], 'not in the notice text');
    const purposes = new Set(d.purposes.map((p) => p.purpose));
    if (purposes.size !== d.purposes.length) issue(['purposes'], 'a purpose is listed twice');
    const fields = new Set(d.fields);
    if (d.thirdParty) {
      const tp = d.thirdParty;
      if (!shown(tp.name)) issue(['thirdParty', 'name'], 'not in the notice text');
      if (!shown(tp.contact)) issue(['thirdParty', 'contact'], 'not in the notice text');
      tp.purposes.forEach((p, i) => {
        if (!purposes.has(p)) issue(['thirdParty', 'purposes', i], 'not among the notice purposes');
      });
      tp.fields.forEach((f, i) => {
        if (!fields.has(f)) issue(['thirdParty', 'fields', i], 'not among the notice fields');
      });
    }
    if (d.crossBorder && !d.thirdParty)
      issue(['crossBorder'], 'a transfer abroad needs the thirdParty block');
    d.sensitive?.fields.forEach((f, i) => {
      if (!fields.has(f)) issue(['sensitive', 'fields', i], 'not among the notice fields');
    });
  });

export type NoticeInput = z.input<typeof NoticeInputSchema>;
export type ParsedNoticeInput = z.output<typeof NoticeInputSchema>;

export interface Notice {
  id: string;
  key: string;
  version: number;
  language: string;
  text: string;
  /** SHA-256 (hex) of the UTF-8 text: what a consent record says the person saw. */
  sha256: string;
  declarations: NoticeDeclarations;
  recipientId: string | null;
  publishedAt: string;
  publishedBy: string | null;
}

/** The purposes and fields a consent may cover under this notice, for a recipient or not. */
export function noticeScope(
  n: Pick<Notice, 'declarations'>,
  recipientId: string | null,
): { purposes: Set<string>; fields: Set<string> } {
  const d = n.declarations;
  if (recipientId !== null && d.thirdParty)
    return { purposes: new Set(d.thirdParty.purposes), fields: new Set(d.thirdParty.fields) };
  return { purposes: new Set(d.purposes.map((p) => p.purpose)), fields: new Set(d.fields) };
}
