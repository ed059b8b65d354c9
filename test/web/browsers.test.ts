/**
 * Threat: a green browser suite that ran in one browser or in none. Each web scenario skips itself
 * when its browser cannot be launched or driven (so a developer without firefox-esr can still run
 * the rest); this file is what turns that into a failure: a browser that is installed but cannot
 * be driven fails here with the reason, and under CI (where .ci/run installs both) a missing
 * browser fails too.
 *
 * Also guarded: the Firefox shim (test/web/browser.ts, installBidiShim) leans on playwright-core
 * internals. It must fail loudly on a version nobody has checked, and it must stay narrow: only
 * the listed optional commands are excused, any other unknown command is still an error.
 */
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  BIDI_SHIM_VERIFIED,
  BROWSERS,
  bidiSession,
  CHROMIUM,
  FIREFOX,
  launch,
  OPTIONAL_BIDI_COMMANDS,
  PLAYWRIGHT_VERSION,
  shimmedCommands,
} from './browser.js';

const PATHS = { chromium: CHROMIUM, firefox: FIREFOX } as const;

describe('browsers for the web scenarios', () => {
  it(`playwright-core ${PLAYWRIGHT_VERSION} is a version the Firefox BiDi shim was checked against`, () => {
    expect(
      BIDI_SHIM_VERIFIED,
      `playwright-core is ${PLAYWRIGHT_VERSION}: read BidiSession.send and the emulation.* calls in ` +
        'node_modules/playwright-core/lib/coreBundle.js again, then add the version to BIDI_SHIM_VERIFIED',
    ).toContain(PLAYWRIGHT_VERSION);
  });

  for (const name of BROWSERS) {
    it(`${name} is installed and can be driven (a page loads and runs script)`, async (ctx) => {
      if (!existsSync(PATHS[name]) && !process.env.CI) {
        console.warn(`${name} is not installed at ${PATHS[name]}: its web scenarios are skipped`);
        ctx.skip(`${name} not installed at ${PATHS[name]}`);
      }
      const b = await launch(name);
      expect(b.unavailable, `${name} cannot be driven: ${b.unavailable}`).toBeUndefined();
      try {
        const page = await (await b.browser!.newContext()).newPage();
        await page.goto('data:text/html,<title>ok</title><p>1</p>');
        expect(await page.title()).toBe('ok');
        expect(await page.evaluate('6 * 7')).toBe(42);
        // The scheme Playwright emulates by default (light): in firefox set by a profile pref,
        // since this Firefox cannot take the emulation command (see OPTIONAL_BIDI_COMMANDS).
        expect(await page.evaluate("matchMedia('(prefers-color-scheme: light)').matches")).toBe(true);
        if (name === 'firefox') {
          // Narrow: an unknown command outside the list is still an error through the shim ...
          const { send } = bidiSession(b.browser!);
          await expect(send('emulation.notACommand', {})).rejects.toThrow(/unknown command/);
          // ... and each listed one is answered, by Firefox itself or by the shim.
          for (const method of OPTIONAL_BIDI_COMMANDS) {
            const params = { features: { 'prefers-color-scheme': null }, contexts: [] };
            const outcome = await send(method, params).then(
              () => 'answered',
              (e) => String(e),
            );
            expect(outcome, method).not.toMatch(/unknown command/);
          }
          const shimmed = [...shimmedCommands];
          console.info(
            shimmed.length > 0
              ? `firefox ${b.browser!.version()}: answered by the shim: ${shimmed.join(', ')}`
              : `firefox ${b.browser!.version()} implements every listed command: the shim can go`,
          );
        }
      } finally {
        await b.browser?.close();
      }
    }, 90_000);
  }
});
