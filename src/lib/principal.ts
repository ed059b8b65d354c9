/** Who is acting: an authenticated actor as every module sees it (never PI: ids, roles, attributes). */
export interface Principal {
  readonly id: string;
  readonly kind: 'employee' | 'service' | 'partner';
  readonly roles: readonly string[];
  readonly attributes: Readonly<Record<string, string>>;
  /** When the account was created (ISO): detection tells a dormant account from a new one. */
  readonly since?: string | undefined;
}
