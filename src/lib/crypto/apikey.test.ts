import { describe, expect, it } from 'vitest';
import { API_KEY_PREFIX, apiKeyId, apiKeyMatches, hashApiKey, newApiKey } from './apikey.js';

describe('API keys', () => {
  it('look like ctk_<16 id chars>_<52 secret chars> and differ every time', () => {
    const a = newApiKey();
    const b = newApiKey();
    expect(a.token).toMatch(/^ctk_[a-z2-7]{16}_[a-z2-7]{52}$/);
    expect(a.token.startsWith(API_KEY_PREFIX)).toBe(true);
    expect(a.token).not.toBe(b.token);
    expect(a.id).not.toBe(b.id);
    expect(apiKeyId(a.token)).toBe(a.id);
  });

  it('store SHA-256 of the whole token, never the token', () => {
    const k = newApiKey();
    expect(k.hash).toEqual(hashApiKey(k.token));
    expect(k.hash.length).toBe(32);
    expect(k.hash.toString('hex')).toBe(hashApiKey(k.token).toString('hex'));
    expect(k.hash.includes(Buffer.from(k.token.slice(-52)))).toBe(false);
  });

  it('match only the exact token', () => {
    const k = newApiKey();
    expect(apiKeyMatches(k.token, k.hash)).toBe(true);
    const last = k.token.at(-1) === 'a' ? 'b' : 'a';
    expect(apiKeyMatches(k.token.slice(0, -1) + last, k.hash)).toBe(false);
    expect(apiKeyMatches(k.token, Buffer.alloc(32))).toBe(false);
    expect(apiKeyMatches(k.token, Buffer.alloc(3))).toBe(false);
  });

  it('reject malformed tokens before any lookup', () => {
    const k = newApiKey();
    for (const t of [
      '',
      'ctk_',
      k.token.toUpperCase(),
      `${k.token}x`,
      k.token.replace('ctk_', 'ctx_'),
      `Bearer ${k.token}`,
    ]) {
      expect(apiKeyId(t)).toBeUndefined();
    }
  });
});
