import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  createGatewayFromConfig,
  createHttpMailGateway,
  createHttpSmsGateway,
  createOutboxGateway,
} from './index.js';

describe('messaging gateway', () => {
  it('the outbox writes one JSON file per message (mode 0600)', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'custodian-outbox-')), 'outbox');
    const g = createOutboxGateway(dir);
    const { id } = await g.send({
      channel: 'sms',
      to: '13800138000',
      body: 'code 123456',
      tag: 'portal.code',
    });
    const files = readdirSync(dir);
    expect(files).toEqual([`${id}.json`]);
    expect(JSON.parse(readFileSync(join(dir, files[0]!), 'utf8'))).toMatchObject({
      id,
      channel: 'sms',
      tag: 'portal.code',
    });
  });

  it('HTTP providers post JSON with the bearer token; a failure names no address', async () => {
    const calls: { url: string; init: RequestInit }[] = [];
    const ok = (async (url: string, init: RequestInit) => {
      calls.push({ url, init });
      return new Response(JSON.stringify({ id: 'prov-1' }), { status: 200 });
    }) as unknown as typeof fetch;
    const sms = createHttpSmsGateway({ url: 'https://sms.example/send', token: 't0k', fetch: ok });
    expect(await sms.send({ channel: 'sms', to: '13800138000', body: 'hi', tag: 'x' })).toEqual({
      id: 'prov-1',
    });
    expect((calls[0]!.init.headers as Record<string, string>).authorization).toBe('Bearer t0k');
    const mail = createHttpMailGateway({
      url: 'https://mail.example/send',
      token: 't0k',
      from: 'privacy@example.cn',
      fetch: ok,
    });
    await mail.send({ channel: 'email', to: 'a@b.cn', subject: 's', body: 'b', tag: 'x' });
    expect(JSON.parse(String(calls[1]!.init.body))).toMatchObject({
      from: 'privacy@example.cn',
      to: 'a@b.cn',
      text: 'b',
    });
    const bad = (async () => new Response('', { status: 500 })) as unknown as typeof fetch;
    const failing = createHttpSmsGateway({ url: 'https://sms.example/send', fetch: bad });
    const err = await failing
      .send({ channel: 'sms', to: '13800138000', body: 'hi', tag: 'x' })
      .catch((e) => e);
    expect(err.code).toBe('MESSAGING_SEND_FAILED');
    expect(JSON.stringify({ m: err.message, d: err.details })).not.toContain('13800138000');
  });

  it('the configuration selects the gateway; a channel without a provider is refused', async () => {
    const g = createGatewayFromConfig({
      messaging: 'http',
      dataDir: '/nonexistent',
      smsUrl: 'https://sms.example',
    });
    await expect(g.send({ channel: 'email', to: 'a@b.cn', body: 'x', tag: 't' })).rejects.toMatchObject({
      code: 'MESSAGING_CHANNEL_UNAVAILABLE',
    });
  });
});
