import { z } from 'zod';

/**
 * Request and response shapes of the sign-in routes. Only zod here: the web console imports this
 * file, so the form and the server validate with one schema.
 */
export const SignInBody = z.union([
  z.object({ apiKey: z.string().min(1).max(200) }).strict(),
  z.object({ link: z.string().min(1).max(200) }).strict(),
]);
export type SignIn = z.infer<typeof SignInBody>;

export const SessionView = z.object({
  actor: z.object({ id: z.string(), kind: z.string(), roles: z.array(z.string()) }),
  via: z.enum(['api_key', 'session']),
  session: z
    .object({ id: z.string(), expiresAt: z.string(), lastSeenAt: z.string(), idleSeconds: z.number() })
    .optional(),
});
export type SessionViewT = z.infer<typeof SessionView>;
