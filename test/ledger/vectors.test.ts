import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { verifyConsistency, verifyInclusion } from '../../src/modules/ledger/index.js';

/**
 * The shared RFC 6962 test vectors (shared/vectors/rfc6962/, beside the repository; never copied
 * into it): every happy path must verify and every malformed variant must fail, through the same
 * pure verifier functions a regulator would use.
 */
const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
const VECTORS = resolve(repoRoot, '../shared/vectors/rfc6962');
const present = existsSync(VECTORS);

if (!present && process.env.CI === 'true') {
  throw new Error(`RFC 6962 vectors not found at ${VECTORS} (required in CI)`);
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? walk(join(dir, d.name)) : d.name.endsWith('.json') ? [join(dir, d.name)] : [],
  );
}

const b64 = (s: string | null | undefined) => Buffer.from(s ?? '', 'base64');

describe.skipIf(!present)('RFC 6962 vectors', () => {
  const files = present ? walk(VECTORS).sort() : [];

  it('are all there', () => {
    expect(files.filter((f) => f.includes('/inclusion/')).length).toBeGreaterThan(50);
    expect(files.filter((f) => f.includes('/consistency/')).length).toBeGreaterThan(50);
  });

  for (const file of files) {
    const v = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    const name = relative(VECTORS, file);
    it(`${name}: ${v.wantErr ? 'rejected' : 'verifies'}`, () => {
      const proof = ((v.proof as string[] | null) ?? []).map(b64);
      const ok =
        'leafIdx' in v
          ? verifyInclusion({
              index: v.leafIdx as number,
              size: v.treeSize as number,
              leafHash: b64(v.leafHash as string),
              proof,
              root: b64(v.root as string),
            })
          : verifyConsistency({
              size1: v.size1 as number,
              size2: v.size2 as number,
              root1: b64(v.root1 as string),
              root2: b64(v.root2 as string),
              proof,
            });
      expect(ok).toBe(!v.wantErr);
    });
  }
});
