/*
 * Threat: a consent receipt that can be altered or forged. The person keeps the receipt as proof of
 * what they agreed to (purpose, recipient, fields, the notice's hash); an organisation, a partner
 * or the person must not be able to change any term, swap the notice hash or re-sign it with a key
 * of their own and still have it verify against the organisation's key.
 */
import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { canonicalJson, type SignedReceipt, verifyReceipt } from '../../src/modules/consent/index.js';
import { describeEachDialect } from '../helpers/db.js';
import { consentSetup, partnerNotice } from './fixtures.js';

const RCP = { id: 'rcp_d', name: 'Example Distribution Ltd.', contact: 'dpo@distribution.example' };

describeEachDialect('signed consent receipts', (dialect) => {
  let s: Awaited<ReturnType<typeof consentSetup>>;
  let signed: SignedReceipt;

  beforeAll(async () => {
    s = await consentSetup(dialect);
    const n = await s.consent.publishNotice(partnerNotice(RCP), null);
    const r = await s.consent.grant(
      {
        subjectId: 'sub_r',
        purpose: 'partner_referral',
        recipientId: RCP.id,
        fields: ['name', 'mobile'],
        noticeId: n.id,
        method: 'paper',
        separate: { thirdParty: true },
        evidenceRef: 'scan-00017',
      },
      null,
    );
    signed = r.receipt;
  });
  afterAll(async () => s.d.destroy());

  it('verifies, with the deployment key and standalone', () => {
    expect(signed.receipt.purpose).toBe('partner_referral');
    expect(signed.receipt.notice.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(s.consent.verifyReceipt(signed)).toBe(true);
    expect(verifyReceipt(signed, s.keyring.publicKeyRaw)).toBe(true);
    // Survives a JSON round trip (what the person stores), whatever the key order.
    const reordered = JSON.parse(
      JSON.stringify(Object.fromEntries(Object.entries(signed).reverse())),
    ) as SignedReceipt;
    expect(verifyReceipt(reordered, s.keyring.publicKeyRaw.toString('base64'))).toBe(true);
  });

  it('fails when any term is altered', () => {
    const alter = (f: (r: SignedReceipt['receipt']) => void) => {
      const copy = JSON.parse(JSON.stringify(signed)) as SignedReceipt;
      f(copy.receipt);
      return s.consent.verifyReceipt(copy);
    };
    expect(
      alter((r) => {
        r.purpose = 'marketing';
      }),
    ).toBe(false);
    expect(
      alter((r) => {
        r.recipientId = 'rcp_other';
      }),
    ).toBe(false);
    expect(alter((r) => r.fields.push('id_number'))).toBe(false);
    expect(
      alter((r) => {
        r.notice.sha256 = '0'.repeat(64);
      }),
    ).toBe(false);
    expect(
      alter((r) => {
        r.separate.crossBorder = true;
      }),
    ).toBe(false);
    expect(
      alter((r) => {
        r.givenAt = '2020-01-01T00:00:00.000Z';
      }),
    ).toBe(false);
    expect(
      alter((r) => {
        r.withdrawnAt = '2025-01-01T00:00:00.000Z';
      }),
    ).toBe(false);
    const sig = Buffer.from(signed.signature, 'base64');
    sig[0]! ^= 1;
    expect(s.consent.verifyReceipt({ ...signed, signature: sig.toString('base64') })).toBe(false);
    expect(s.consent.verifyReceipt({ ...signed, alg: 'none' })).toBe(false);
    expect(s.consent.verifyReceipt(null)).toBe(false);
  });

  it('a receipt re-signed with another key does not verify against the organisation key', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const { sign } = await import('node:crypto');
    const forged = { ...signed.receipt, purpose: 'marketing' };
    const spki = publicKey.export({ format: 'der', type: 'spki' });
    const copy: SignedReceipt = {
      receipt: forged,
      alg: 'Ed25519',
      publicKey: Buffer.from(spki.subarray(spki.length - 32)).toString('base64'),
      signature: sign(null, Buffer.from(canonicalJson(forged)), privateKey).toString('base64'),
    };
    expect(verifyReceipt(copy)).toBe(true); // self-consistent …
    expect(s.consent.verifyReceipt(copy)).toBe(false); // … but not the organisation's
  });

  it('a receipt reissued after withdrawal says so, and still verifies', async () => {
    await s.consent.withdraw({ consentId: signed.receipt.consentId }, { by: null, method: 'web' });
    const again = await s.consent.receipt(signed.receipt.consentId);
    expect(again.receipt.withdrawnAt).not.toBeNull();
    expect(s.consent.verifyReceipt(again)).toBe(true);
  });
});
