/**
 * The one fetch layer. Same-origin only, cookies sent by the browser (the session cookie is
 * httpOnly: this code never sees it); every state-changing request carries the CSRF token from
 * the script-readable cookie in `x-csrf-token`. No API key is ever stored by the SPA.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly url: string,
  ) {
    super(`${status} ${code}`);
  }
  /** The route does not exist on this server (a feature merged later), not a missing record. */
  get notAvailable(): boolean {
    return this.status === 404 && this.code === 'NOT_FOUND';
  }
}

export function csrfToken(): string | undefined {
  const m = /(?:^|;\s*)(?:__Host-)?custodian_csrf=([^;]+)/.exec(document.cookie);
  return m?.[1] ? decodeURIComponent(m[1]) : undefined;
}

export type Query = Record<string, string | number | boolean | undefined | null>;

export function withQuery(path: string, q?: Query): string {
  if (!q) return path;
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== undefined && v !== null && v !== '') p.set(k, String(v));
  const s = p.toString();
  return s ? `${path}?${s}` : path;
}

export async function api<T>(method: string, path: string, body?: unknown, init?: RequestInit): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (method !== 'GET' && method !== 'HEAD') {
    const csrf = csrfToken();
    if (csrf) headers['x-csrf-token'] = csrf;
  }
  let payload: BodyInit | undefined;
  if (body instanceof FormData) payload = body;
  else if (body !== undefined) {
    headers['content-type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  const res = await fetch(path, {
    method,
    headers,
    body: payload ?? null,
    credentials: 'same-origin',
    ...init,
  });
  const type = res.headers.get('content-type') ?? '';
  if (!res.ok) {
    let code = 'HTTP_' + res.status;
    if (type.includes('json')) code = ((await res.json()) as { code?: string }).code ?? code;
    throw new ApiError(res.status, code, path);
  }
  if (type.includes('json')) return (await res.json()) as T;
  return (await res.text()) as T;
}

export const get = <T>(path: string, q?: Query) => api<T>('GET', withQuery(path, q));
export const post = <T>(path: string, body?: unknown) => api<T>('POST', path, body ?? {});
