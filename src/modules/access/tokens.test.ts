// Threat: a contact token whose claims have the wrong types. Tokens are authenticated, but the
// claims of an authentic token (an old format, or a bug at issue time) were cast without checks:
// a purpose that is a number or an object, an expiry that is a string ("9999…" compares as larger
// than any time), would flow into the policy check and the record. Every claim is type-checked.
import { describe, expect, it } from 'vitest';
import { deriveKey, generateKeyFile, keyringFromFile, seal } from '../../lib/crypto/index.js';
import { createTokenSealer, TOKEN_PREFIX } from './tokens.js';

const keyring = keyringFromFile(generateKeyFile());
const AAD = new TextEncoder().encode('custodian/contact-token/v1');
const forge = (claims: unknown) =>
  TOKEN_PREFIX +
  seal(deriveKey(keyring, 'contact-token/v1'), Buffer.from(JSON.stringify(claims)), AAD).toString(
    'base64url',
  );

describe('contact token claims', () => {
  const sealer = createTokenSealer(keyring);
  const good = { s: 'sub1', f: 'mobile', a: 'act1', p: 'telemarketing', e: 1_900_000_000 };

  it('opens a well-typed token', () => {
    expect(sealer.open(sealer.issue(good))).toEqual(good);
    expect(sealer.open(forge(good))).toEqual(good);
  });

  it('refuses an authentic token whose claims have the wrong types or extra keys', () => {
    for (const bad of [
      { ...good, p: 7 },
      { ...good, p: { $ne: null } },
      { ...good, p: '' },
      { ...good, e: '9999999999' },
      { ...good, e: 1.5 },
      { ...good, s: ['sub1'] },
      { ...good, extra: 1 },
      (({ p: _p, ...rest }) => rest)(good),
      null,
      [good],
    ])
      expect(sealer.open(forge(bad))).toBeUndefined();
  });
});
