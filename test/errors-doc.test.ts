import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import '../src/cli.js';
import { registeredErrorCodes } from '../src/lib/errors.js';

// docs/errors.md and the catalogues in the code must agree both ways: a code the service can
// raise that integrators cannot look up is as bad as a documented code that no longer exists.
describe('docs/errors.md', () => {
  const doc = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');
  const documented = new Map<string, number>();
  for (const m of doc.matchAll(/^\|\s*`([A-Z][A-Z0-9_]+)`\s*\|\s*(\d{3})\s*\|/gm))
    documented.set(m[1]!, Number(m[2]));

  it('documents every code the code defines, with its status', () => {
    const missing = [...registeredErrorCodes()].filter(([c]) => !documented.has(c)).map(([c]) => c);
    expect(missing).toEqual([]);
    for (const [code, spec] of registeredErrorCodes())
      expect([code, documented.get(code)]).toEqual([code, spec.status]);
  });

  it('documents no code the code does not define', () => {
    const extra = [...documented.keys()].filter((c) => !registeredErrorCodes().has(c));
    expect(extra).toEqual([]);
  });
});
