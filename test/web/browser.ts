import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { type Browser, chromium, firefox, type Locator, type Page } from 'playwright-core';

/**
 * Real browsers from the Debian packages (no browser downloads): chromium through CDP, and
 * firefox-esr through WebDriver BiDi (Playwright's `moz-firefox` channel), with one narrow shim
 * for a BiDi command that Debian's Firefox ESR does not implement (see `installBidiShim` and
 * docs/adr/0014-web-console.md, "Browsers").
 */
export const CHROMIUM = process.env.CUSTODIAN_CHROMIUM ?? '/usr/bin/chromium';
export const FIREFOX = process.env.CUSTODIAN_FIREFOX ?? '/usr/bin/firefox-esr';
export const BROWSERS = ['chromium', 'firefox'] as const;
export type BrowserName = (typeof BROWSERS)[number];

const require = createRequire(import.meta.url);
export const PLAYWRIGHT_VERSION: string = require('playwright-core/package.json').version;

/**
 * The playwright-core versions whose BiDi internals `installBidiShim` was read against
 * (lib/coreBundle.js: `BidiSession.send`, `BidiBrowser._browserSession`, the in-process
 * `Connection.toImpl`). test/web/browsers.test.ts fails on any other version until someone has
 * read them again and added it here.
 */
export const BIDI_SHIM_VERIFIED = ['1.65.2'];

/**
 * BiDi commands Playwright sends on its own (not because a test asked) that this Firefox may
 * answer with "unknown command", and that no test relies on. Firefox ESR 153's remote agent has
 * no `emulation.setMediaFeaturesOverride`; Playwright sends it for every new context and page to
 * emulate `prefers-color-scheme` (default "light"). The console's theme is fixed (Mantine,
 * light), so the media feature changes nothing the tests look at, and the Firefox profile pins
 * the same value with a pref (FIREFOX_PREFS) instead.
 */
export const OPTIONAL_BIDI_COMMANDS: ReadonlySet<string> = new Set(['emulation.setMediaFeaturesOverride']);

/** Commands the shim has answered in place of this Firefox, for the record (printed by the tests). */
export const shimmedCommands = new Set<string>();

/** What setMediaFeaturesOverride would have emulated: `prefers-color-scheme: light` (1 = light). */
const FIREFOX_PREFS = { 'layout.css.prefers-color-scheme.content-override': 1 };

const SHIMMED = Symbol.for('custodian.bidiShim');
type Send = (this: unknown, method: string, params?: unknown) => Promise<unknown>;

/** A BiDi browser's command session (playwright-core internals; throws naming what is missing). */
export function bidiSession(browser: Browser): {
  send: (method: string, params?: unknown) => Promise<unknown>;
  proto: { send?: Send; [SHIMMED]?: true };
} {
  const where = `playwright-core ${PLAYWRIGHT_VERSION} internals changed (test/web/browser.ts bidiSession)`;
  const connection = (browser as unknown as { _connection?: { toImpl?: (x: unknown) => unknown } })
    ._connection;
  if (typeof connection?.toImpl !== 'function') throw new Error(`${where}: no in-process Connection.toImpl`);
  const server = connection.toImpl(browser) as { _browserSession?: object } | undefined;
  const session = server?._browserSession;
  if (!session) throw new Error(`${where}: the BiDi browser has no _browserSession`);
  const proto = Object.getPrototypeOf(session) as { send?: Send; [SHIMMED]?: true };
  if (proto.constructor?.name !== 'BidiSession' || typeof proto.send !== 'function')
    throw new Error(`${where}: _browserSession is not a BidiSession with send()`);
  return { send: (method, params) => proto.send!.call(session, method, params), proto };
}

/**
 * Makes Playwright's WebDriver BiDi session treat "unknown command" for the commands in
 * OPTIONAL_BIDI_COMMANDS as done, and nothing else: any other error, and any error of another
 * command, still fails the call. Test helper only: it wraps `BidiSession.prototype.send` of the
 * in-process playwright-core (reached through the browser's server-side object), once.
 */
export function installBidiShim(browser: Browser): void {
  const { proto } = bidiSession(browser);
  if (proto[SHIMMED]) return;
  const send = proto.send!;
  proto.send = async function (this: unknown, method: string, params?: unknown) {
    try {
      return await send.call(this, method, params);
    } catch (e) {
      if (OPTIONAL_BIDI_COMMANDS.has(method) && /\bunknown command\b/.test(String((e as Error)?.message))) {
        shimmedCommands.add(method);
        return {};
      }
      throw e;
    }
  };
  proto[SHIMMED] = true;
}

export interface Launched {
  name: BrowserName;
  browser?: Browser;
  /** Why this browser cannot run here (missing, or its protocol is not supported). */
  unavailable?: string;
}

export async function launch(name: BrowserName): Promise<Launched> {
  try {
    if (name === 'chromium') {
      const browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-quic',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
        ],
      });
      return { name, browser };
    }
    const browser = await firefox.launch({
      channel: 'moz-firefox',
      executablePath: FIREFOX,
      firefoxUserPrefs: FIREFOX_PREFS,
      timeout: 60_000,
    });
    try {
      installBidiShim(browser);
      // Probe once: a context and a page, the first place Playwright's BiDi commands can fail.
      const ctx = await browser.newContext();
      try {
        await ctx.newPage();
      } finally {
        await ctx.close().catch(() => undefined);
      }
    } catch (e) {
      await browser.close().catch(() => undefined);
      throw e;
    }
    return { name, browser };
  } catch (e) {
    return { name, unavailable: String((e as Error).message).split('\n')[0] };
  }
}

/**
 * Types `text` into a field as a person does: cleared, then key events one character at a time.
 * Not `locator.fill()`: over WebDriver BiDi (Firefox), Playwright 1.65 fills by assigning
 * `input.value` from script and dispatching `input`; React's value tracker takes that assignment
 * for its own write, so a controlled input's onChange never fires (the field shows the text, the
 * component's state stays empty, and e.g. a "Close" button that needs a reason stays disabled).
 * Key events reach React the same way in both browsers, so every test types.
 */
export async function typeInto(field: Locator, text: string): Promise<void> {
  await field.clear();
  await field.pressSequentially(text);
}

/**
 * Signs a customer in to the portal at `base` with the one-time code the test's fake gateway sent
 * to `contact` (`messageTo` gives that message's body); ends on his data page.
 */
export async function portalSignIn(
  page: Page,
  base: string,
  contact: string,
  messageTo: (contact: string) => string,
): Promise<void> {
  await page.goto(`${base}/portal/`);
  await typeInto(page.getByLabel('Mobile or e-mail'), contact);
  await page.getByRole('button', { name: 'Send me a code' }).click();
  await page.getByLabel('One-time code').waitFor();
  const code = /\b(\d{6})\b/.exec(messageTo(contact))![1]!;
  await typeInto(page.getByLabel('One-time code'), code);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('page-portal-data').waitFor();
}

const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: number;
}

/**
 * axe-core in the page. Evaluated through the automation protocol rather than a <script> tag,
 * which the console's CSP (script-src 'self') would rightly refuse.
 */
export async function axe(page: Page): Promise<AxeViolation[]> {
  await page.evaluate(axeSource);
  const result = (await page.evaluate(
    'axe.run(document, { resultTypes: ["violations"] }).then(r => r.violations.map(v => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.length, target: v.nodes[0] && v.nodes[0].target.join(" "), html: v.nodes[0] && v.nodes[0].html.slice(0, 160) })))',
  )) as AxeViolation[];
  return result.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}
