import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defineErrors } from '../errors.js';
import { randomId } from '../ids.js';

/**
 * The messaging gateway: the one way Custodian reaches a person (one-time codes for the portal,
 * breach notices). An outside system behind an interface, like the regulator's portal: a
 * development outbox (one JSON file per message), HTTP providers for SMS and mail selected by
 * configuration, and a fake for tests.
 *
 * A message carries personal information (the address, and for a code the code itself): it is
 * never logged, and errors name the channel and an HTTP status, never the address or the body.
 */
export interface Message {
  channel: 'sms' | 'email';
  to: string;
  subject?: string;
  body: string;
  /** What the message is for (`portal.code`, `incident.notice`, …): logs and metrics use this. */
  tag: string;
}

export interface MessageGateway {
  send(message: Message): Promise<{ id: string }>;
}

export const messagingError = defineErrors({
  MESSAGING_SEND_FAILED: { status: 502, message: 'The message could not be handed to the provider.' },
  MESSAGING_CHANNEL_UNAVAILABLE: { status: 503, message: 'No provider is configured for this channel.' },
});

/**
 * Development gateway: writes each message to `dir/<id>.json` (mode 0600), atomically (a reader
 * never sees half a file). `dir` is normally DATA_DIR/outbox.
 */
export function createOutboxGateway(dir: string): MessageGateway {
  return {
    async send(message) {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const id = randomId('msg');
      const at = new Date().toISOString();
      const file = join(dir, `${id}.json`);
      const tmp = `${file}.tmp`;
      writeFileSync(tmp, `${JSON.stringify({ id, at, ...message }, null, 2)}\n`, { mode: 0o600 });
      renameSync(tmp, file);
      return { id };
    },
  };
}

export interface HttpProviderOptions {
  /** The provider's endpoint; receives a JSON POST. */
  url: string;
  /** Bearer token for the provider (a secret: from the environment, never a default). */
  token?: string | undefined;
  /** Sender (mail From, SMS sign-name), when the provider needs one. */
  from?: string | undefined;
  fetch?: typeof fetch;
  timeoutMs?: number;
}

async function postJson(o: HttpProviderOptions, channel: string, payload: unknown): Promise<{ id: string }> {
  const f = o.fetch ?? fetch;
  let res: Response;
  try {
    res = await f(o.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(o.token ? { authorization: `Bearer ${o.token}` } : {}),
      },
      body: JSON.stringify(payload),
      signal: AbortSignal.timeout(o.timeoutMs ?? 10_000),
    });
  } catch (e) {
    throw messagingError('MESSAGING_SEND_FAILED', { cause: e, details: { channel } });
  }
  if (!res.ok) throw messagingError('MESSAGING_SEND_FAILED', { details: { channel, status: res.status } });
  let id: string | undefined;
  try {
    const body = (await res.json()) as { id?: unknown; messageId?: unknown };
    const v = body.id ?? body.messageId;
    if (typeof v === 'string' && v.length <= 128) id = v;
  } catch {
    // A provider that answers 2xx without JSON still accepted the message.
  }
  return { id: id ?? randomId('msg') };
}

/**
 * SMS through a webhook-style HTTP provider (most SMS aggregators accept this shape, or a small
 * relay adapts it): POST `{ to, body, tag, from? }` with a bearer token; 2xx means accepted, and
 * `{ id }` in the answer is the provider's message id.
 */
export function createHttpSmsGateway(o: HttpProviderOptions): MessageGateway {
  return {
    async send(m) {
      if (m.channel !== 'sms')
        throw messagingError('MESSAGING_CHANNEL_UNAVAILABLE', { details: { channel: m.channel } });
      return postJson(o, 'sms', { to: m.to, body: m.body, tag: m.tag, ...(o.from ? { from: o.from } : {}) });
    },
  };
}

/**
 * Mail through an HTTP mail API (the JSON shape of the common transactional-mail APIs): POST
 * `{ from, to, subject, text, tag }` with a bearer token.
 */
export function createHttpMailGateway(o: HttpProviderOptions): MessageGateway {
  return {
    async send(m) {
      if (m.channel !== 'email')
        throw messagingError('MESSAGING_CHANNEL_UNAVAILABLE', { details: { channel: m.channel } });
      return postJson(o, 'email', {
        ...(o.from ? { from: o.from } : {}),
        to: m.to,
        subject: m.subject ?? '',
        text: m.body,
        tag: m.tag,
      });
    },
  };
}

/** Routes each message to the gateway of its channel. */
export function createChannelRouter(by: Partial<Record<Message['channel'], MessageGateway>>): MessageGateway {
  return {
    async send(m) {
      const g = by[m.channel];
      if (!g) throw messagingError('MESSAGING_CHANNEL_UNAVAILABLE', { details: { channel: m.channel } });
      return g.send(m);
    },
  };
}

/** Test double for the outside system: keeps what was sent; `fail` makes the next sends throw. */
export interface FakeGateway extends MessageGateway {
  readonly sent: (Message & { id: string })[];
  fail: boolean;
  /** The last message sent to `to`, if any. */
  lastTo(to: string): (Message & { id: string }) | undefined;
}

export function createFakeGateway(): FakeGateway {
  const sent: (Message & { id: string })[] = [];
  const g: FakeGateway = {
    sent,
    fail: false,
    async send(m) {
      if (g.fail) throw messagingError('MESSAGING_SEND_FAILED', { details: { channel: m.channel } });
      const id = randomId('msg');
      sent.push({ ...m, id });
      return { id };
    },
    lastTo(to) {
      for (let i = sent.length - 1; i >= 0; i--) if (sent[i]!.to === to) return sent[i];
      return undefined;
    },
  };
  return g;
}

export interface MessagingConfig {
  messaging: 'outbox' | 'http';
  dataDir: string;
  smsUrl?: string | undefined;
  mailUrl?: string | undefined;
  messagingToken?: string | undefined;
  mailFrom?: string | undefined;
}

/** The gateway the configuration names (CUSTODIAN_MESSAGING, default outbox). */
export function createGatewayFromConfig(c: MessagingConfig): MessageGateway {
  if (c.messaging === 'outbox') return createOutboxGateway(join(c.dataDir, 'outbox'));
  return createChannelRouter({
    ...(c.smsUrl
      ? { sms: createHttpSmsGateway({ url: c.smsUrl, token: c.messagingToken, from: c.mailFrom }) }
      : {}),
    ...(c.mailUrl
      ? { email: createHttpMailGateway({ url: c.mailUrl, token: c.messagingToken, from: c.mailFrom }) }
      : {}),
  });
}
