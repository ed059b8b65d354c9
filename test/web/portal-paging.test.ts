import type { AddressInfo } from 'node:net';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFakeGateway, type FakeGateway } from '../../src/lib/messaging/index.js';
import { buildHttp, createTestApp, type TestApp } from '../helpers/app.js';
import { axe, BROWSERS, type Launched, launch, portalSignIn } from './browser.js';

/*
 * Threat: the portal shows a customer his history one page at a time; an operator (or anything
 * between him and the server) that drops a read from a page, or hands an older page that does not
 * continue the newer one, must not get a green "verified" in his browser. The pages are checked in
 * the browser itself (WebCrypto, the log's public key), each as it arrives: the first against the
 * signed (count, head) for him, each older page against where the newer one began. Real chromium
 * and firefox-esr against the real server over loopback (set-up as in console.test.ts); SQLite only: the API on
 * PostgreSQL is covered by test/rights/paging.test.ts.
 */
let app: TestApp;
let server: ReturnType<typeof buildHttp>;
let base: string;
const gateway: FakeGateway = createFakeGateway();
const MOBILE = '+86 138 0013 8000';
const READS = 60;

beforeAll(async () => {
  app = await createTestApp('sqlite', { app: { messaging: gateway } });
  server = buildHttp(app);
  await server.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(server.server.address() as AddressInfo).port}`;
  const subjectId = (
    await app.vault.create({ fields: { name: '李明', mobile: MOBILE, email: 'li@example.cn' } }, { by: null })
  ).id;
  const { actor } = await app.actors.create(
    { name: 'billing-web', kind: 'employee', roles: ['billing'], attributes: {} },
    { by: null },
  );
  const p = { id: actor.id, kind: 'employee' as const, roles: ['billing'], attributes: {} };
  for (let i = 0; i < READS; i++)
    await app.access.read(p, { subjectId, purpose: 'billing', fields: ['name'] });
  await app.access.drain();
  await app.ledger.integrate();
  await app.ledger.checkpoint();
  await app.rights.commitSubjects();
});

afterAll(async () => {
  await server?.close();
  await app?.destroy();
});

describe.each(BROWSERS)('portal history, paged, in %s', (name) => {
  let b: Launched;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    b = await launch(name);
    if (b.unavailable) console.warn(`${name} unavailable, its scenarios are skipped: ${b.unavailable}`);
  }, 90_000);
  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await b?.browser?.close();
  });

  async function signedIn(): Promise<Page> {
    const ctx = await b.browser!.newContext({ locale: 'en-US', viewport: { width: 1280, height: 860 } });
    contexts.push(ctx);
    const page = await ctx.newPage();
    await portalSignIn(page, base, MOBILE, (to) => gateway.lastTo(to)!.body);
    return page;
  }

  it('shows the newest page verified, then older pages until all are shown and none left out', async (ctx) => {
    if (!b.browser) ctx.skip(`${name} unavailable: ${b.unavailable}`);
    const page = await signedIn();
    await page.getByRole('link', { name: 'Who read or received my data' }).click();
    const history = page.getByTestId('page-portal-history');
    const status = history.getByTestId('history-status');
    await status.filter({ hasText: 'Your newest 50 of' }).waitFor();
    const total = Number(/of (\d+) entries/.exec((await status.textContent()) ?? '')![1]);
    expect(total).toBeGreaterThanOrEqual(READS);
    expect(await history.getByTestId('history-row').count()).toBe(50);
    expect(await history.getByTestId('proof-result').filter({ hasText: 'Not verified' }).count()).toBe(0);
    expect(
      await history
        .getByTestId('proof-result')
        .filter({ hasText: /^Verified$/ })
        .count(),
    ).toBe(50);
    const violations = await axe(page);
    expect(violations, JSON.stringify(violations)).toEqual([]);

    await history.getByTestId('history-older').click();
    await status.filter({ hasText: `All ${total} entries` }).waitFor();
    expect(await history.getByTestId('history-row').count()).toBe(total);
    expect(
      await history
        .getByTestId('proof-result')
        .filter({ hasText: /^Verified$/ })
        .count(),
    ).toBe(total);
    expect(await history.getByTestId('proof-result').filter({ hasText: 'Not verified' }).count()).toBe(0);
    expect(await history.getByTestId('history-older').count()).toBe(0);
    // Checking again on demand gives the same answer.
    await history.getByRole('button', { name: 'Verify every entry' }).click();
    await status.filter({ hasText: `All ${total} entries` }).waitFor();
  });

  it('an older page with a read dropped is shown as not verified', async (ctx) => {
    if (!b.browser) ctx.skip(`${name} unavailable: ${b.unavailable}`);
    const page = await signedIn();
    // Everything between the server and the page drops one entry of the older page.
    await page.route('**/v1/portal/history?*cursor=*', async (route) => {
      const res = await route.fetch();
      const body = (await res.json()) as { events: unknown[]; page: { entries: unknown[]; from: number } };
      body.events.splice(1, 1);
      body.page.entries.splice(1, 1);
      body.page.from += 1;
      await route.fulfill({ response: res, json: body });
    });
    await page.getByRole('link', { name: 'Who read or received my data' }).click();
    const history = page.getByTestId('page-portal-history');
    const status = history.getByTestId('history-status');
    await status.filter({ hasText: 'Your newest 50 of' }).waitFor();
    await history.getByTestId('history-older').click();
    await status.filter({ hasText: 'do not check' }).waitFor();
    expect(
      await history.getByTestId('proof-result').filter({ hasText: 'Not verified' }).count(),
    ).toBeGreaterThan(0);
    // The newest page, which did verify against the signed head, stays verified.
    expect(
      await history
        .getByTestId('proof-result')
        .filter({ hasText: /^Verified$/ })
        .count(),
    ).toBe(50);
  });
});
