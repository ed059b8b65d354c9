import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Principal } from '../../lib/principal.js';
import { sessionError } from './session.errors.js';
import type { ResumedSession, Sessions, StartedSession } from './session.service.js';

/**
 * The cookie side of sessions. With TLS the cookies carry the `__Host-` prefix (Secure, Path=/, no
 * Domain: a sibling host cannot plant or overwrite them). The session cookie is httpOnly: scripts,
 * including an injected one, cannot read it. The CSRF cookie is readable by the SPA, which echoes it
 * in `x-csrf-token`; the server compares the header with the hash stored for the session (a
 * synchronizer token carried by double-submit), so a forged cross-site request fails twice over:
 * SameSite=Strict keeps the cookie off it, and it cannot read the token to set the header.
 */
export interface CookieNames {
  session: string;
  csrf: string;
}

export function cookieNames(secure: boolean): CookieNames {
  return secure
    ? { session: '__Host-custodian_session', csrf: '__Host-custodian_csrf' }
    : { session: 'custodian_session', csrf: 'custodian_csrf' };
}

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);
const resumed = new WeakMap<FastifyRequest, ResumedSession>();

/** The session a request was authenticated with (undefined for Bearer requests). */
export function sessionOf(request: FastifyRequest): ResumedSession | undefined {
  return resumed.get(request);
}

type CookieRequest = FastifyRequest & { cookies?: Record<string, string | undefined> };
type CookieReply = FastifyReply & {
  setCookie?(name: string, value: string, opts: Record<string, unknown>): FastifyReply;
  clearCookie?(name: string, opts: Record<string, unknown>): FastifyReply;
};

/**
 * For requests without an Authorization header: the session cookie → principal, or undefined.
 * A state-changing method also needs the CSRF header, or the request fails with
 * SESSION_CSRF_MISSING (403) even though the cookie is valid.
 */
export function sessionAuthenticator(sessions: Sessions, secure: boolean) {
  const names = cookieNames(secure);
  return async (request: FastifyRequest): Promise<Principal | undefined> => {
    const token = (request as CookieRequest).cookies?.[names.session];
    if (!token) return undefined;
    const s = await sessions.resume(token);
    if (!s) return undefined;
    if (!SAFE.has(request.method)) {
      const header = request.headers['x-csrf-token'];
      if (!sessions.csrfMatches(typeof header === 'string' ? header : undefined, s.csrfHash))
        throw sessionError('SESSION_CSRF_MISSING');
    }
    resumed.set(request, s);
    return s.principal;
  };
}

export function setSessionCookies(reply: FastifyReply, started: StartedSession, secure: boolean): void {
  const names = cookieNames(secure);
  const r = reply as CookieReply;
  const base = { path: '/', sameSite: 'strict', secure, expires: new Date(started.session.expiresAt) };
  r.setCookie?.(names.session, started.token, { ...base, httpOnly: true });
  r.setCookie?.(names.csrf, started.csrf, { ...base, httpOnly: false });
}

export function clearSessionCookies(reply: FastifyReply, secure: boolean): void {
  const names = cookieNames(secure);
  const r = reply as CookieReply;
  for (const n of [names.session, names.csrf]) r.clearCookie?.(n, { path: '/', sameSite: 'strict', secure });
}
