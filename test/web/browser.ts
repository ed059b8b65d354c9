import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { type Browser, chromium, firefox, type Page } from 'playwright-core';

/**
 * Real browsers from the Debian packages (no browser downloads): chromium through CDP, and
 * firefox-esr through WebDriver BiDi when Playwright can drive it (see docs/adr/0014-web-console.md
 * for why the Juggler protocol cannot be used with Debian's Firefox and what BiDi lacks).
 */
export const CHROMIUM = process.env.CUSTODIAN_CHROMIUM ?? '/usr/bin/chromium';
export const FIREFOX = process.env.CUSTODIAN_FIREFOX ?? '/usr/bin/firefox-esr';

export interface Launched {
  name: 'chromium' | 'firefox';
  browser?: Browser;
  /** Why this browser cannot run here (missing, or its protocol is not supported). */
  unavailable?: string;
}

export async function launch(name: 'chromium' | 'firefox'): Promise<Launched> {
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
      timeout: 30_000,
    });
    // Playwright's BiDi backend sends emulation.* commands on the first page; probe once here.
    const ctx = await browser.newContext();
    try {
      await ctx.newPage();
    } finally {
      await ctx.close().catch(() => undefined);
    }
    return { name, browser };
  } catch (e) {
    return { name, unavailable: String((e as Error).message).split('\n')[0] };
  }
}

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

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
