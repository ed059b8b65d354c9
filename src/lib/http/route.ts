import type { FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import type { Principal } from '../principal.js';

export type { Principal };

/**
 * A route is declared once, with zod schemas for what comes in and an allowlist schema for what
 * may go out; the same declaration registers the handler and describes it in /openapi.json.
 */
export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface RouteContext<B, Q, P> {
  body: B;
  query: Q;
  params: P;
  /** Set when the route requires authentication. */
  principal: Principal;
  request: FastifyRequest;
  reply: FastifyReply;
}

export interface RouteDef<B = unknown, Q = unknown, P = unknown, R = unknown> {
  method: HttpMethod;
  /** Fastify path syntax: /v1/subjects/:id */
  url: string;
  summary: string;
  tags?: string[];
  /** 'actor': a valid API key is required (Authorization: Bearer). 'none': public. */
  auth: 'none' | 'actor';
  body?: z.ZodType<B>;
  query?: z.ZodType<Q>;
  params?: z.ZodType<P>;
  /** JSON responses are parsed through this schema: only what it names leaves. */
  response?: z.ZodType<R>;
  /** For non-JSON responses (text/plain notes, binary tiles). */
  produces?: string;
  status?: number;
  /** Raw body limit in bytes (default 1 MiB); the caller's role may lower it (docs/security.md). */
  bodyLimit?: number;
  /** What the request costs in the per-actor rate limit, in subjects (default 1). */
  cost?(input: { body: B; query: Q; params: P }): number;
  handler(ctx: RouteContext<B, Q, P>): Promise<R>;
}

/** Erases the type parameters so routes of different shapes can sit in one list. */
export function route<B, Q, P, R>(def: RouteDef<B, Q, P, R>): RouteDef<any, any, any, any> {
  return def as RouteDef<any, any, any, any>;
}
