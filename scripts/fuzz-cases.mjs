// Malformed and hostile HTTP requests for every operation in /openapi.json. Shared by the suite's
// fuzz test (test/app/fuzz.security.test.ts) and the full run (scripts/fuzz.mjs, docs/security.md).
// Deterministic: a seeded generator, so a failing case can be replayed by its seed and number.

/** mulberry32: a small seeded PRNG (test data only, never security). */
export function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const HOSTILE = [
  '',
  ' ',
  '0',
  '-1',
  '1e309',
  'NaN',
  'null',
  'true',
  '[]',
  '{}',
  '../../../../etc/passwd',
  '..%2f..%2fetc%2fpasswd',
  '%00',
  '\u0000',
  "' OR 1=1 --",
  '"; DROP TABLE subjects; --',
  '<script>alert(1)</script>',
  '${7*7}',
  '{{7*7}}',
  '__proto__',
  'constructor',
  'prototype',
  '\u202e\u0645\u0631\u062d\u0628\u0627',
  '😀'.repeat(50),
  'A'.repeat(70),
  'A'.repeat(5000),
  'sub_00000000000000000000000000',
  'act_00000000000000000000000000',
  '13800138000',
  '=cmd|"/c calc"!A1',
  'billing',
  'contact',
  'name,mobile,email',
  'name,,,,',
  'NAME',
];

function pick(rnd, xs) {
  return xs[Math.floor(rnd() * xs.length)];
}

function hostileValue(rnd, depth = 0) {
  const r = rnd();
  if (r < 0.35) return pick(rnd, HOSTILE);
  if (r < 0.45) return Math.floor(rnd() * 2 ** 53) * (rnd() < 0.5 ? -1 : 1);
  if (r < 0.5) return rnd() < 0.5;
  if (r < 0.55) return null;
  if (r < 0.7 && depth < 4) return Array.from({ length: Math.floor(rnd() * 5) }, () => hostileValue(rnd, depth + 1));
  if (r < 0.85 && depth < 4) {
    const o = Object.create(null); // so a '__proto__' key is an own property that JSON carries
    for (let i = 0; i < Math.floor(rnd() * 5); i++) o[pick(rnd, FIELD_NAMES)] = hostileValue(rnd, depth + 1);
    return o;
  }
  return pick(rnd, HOSTILE) + String(Math.floor(rnd() * 1000));
}

const FIELD_NAMES = [
  'purpose',
  'fields',
  'subjects',
  'subject',
  'reason',
  'token',
  'field',
  'value',
  'name',
  'roles',
  'kind',
  'actor',
  'recipient',
  'format',
  '__proto__',
  'constructor',
  'id',
  'records',
  'entries',
];

function hostileScalar(rnd) {
  const v = hostileValue(rnd);
  return typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v);
}

function deepNest(n) {
  let s = '0';
  for (let i = 0; i < n; i++) s = `[${s}]`;
  return s;
}

/** Operations of an OpenAPI document: [{ method, path, params: [names], query: [names], body: bool }]. */
export function operations(openapi) {
  const ops = [];
  for (const [path, item] of Object.entries(openapi.paths ?? {})) {
    for (const [method, op] of Object.entries(item)) {
      const params = (op.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name);
      const query = (op.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name);
      ops.push({ method: method.toUpperCase(), path, params, query, body: Boolean(op.requestBody) });
    }
  }
  return ops;
}

/**
 * The i-th request of a run. `keys` are bearer tokens of every role (so authenticated routes are
 * reached past authentication); `ids` are real subject ids (so some requests reach the read path).
 */
export function fuzzRequest(seed, i, ops, keys, ids = []) {
  const rnd = prng(seed * 1_000_003 + i);
  const op = pick(rnd, ops);
  let method = op.method;
  if (rnd() < 0.05) method = pick(rnd, ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD']);
  let url = op.path.replace(/\{([^}]+)\}/g, () => {
    const v = rnd() < 0.3 && ids.length ? pick(rnd, ids) : hostileScalar(rnd);
    return rnd() < 0.8 ? encodeURIComponent(v) : v.replace(/[?#\s]/g, '');
  });
  const q = [];
  for (const name of op.query) {
    if (rnd() < 0.2) continue; // a required one missing
    let v = hostileScalar(rnd);
    if (name === 'purpose' && rnd() < 0.4) v = pick(rnd, ['billing', 'telemarketing', 'support', 'contact']);
    if (name === 'fields' && rnd() < 0.4) v = pick(rnd, ['name', 'name,mobile', 'mobile,email,id_number']);
    q.push(`${encodeURIComponent(name)}=${encodeURIComponent(v)}`);
    if (rnd() < 0.1) q.push(`${encodeURIComponent(name)}=${encodeURIComponent(v)}`); // repeated
  }
  if (rnd() < 0.15) q.push(`__proto__[polluted]=1&constructor[prototype][x]=1`);
  if (q.length) url += `?${q.join('&')}`;
  const headers = {};
  const a = rnd();
  if (a < 0.2) {
    // none
  } else if (a < 0.3) headers.authorization = pick(rnd, ['Bearer', 'Basic YTpi', 'Bearer ctk_x', `Bearer ${'k'.repeat(4000)}`]);
  else if (keys.length) headers.authorization = `Bearer ${pick(rnd, keys)}`;
  let body;
  if (op.body || rnd() < 0.1) {
    const b = rnd();
    if (b < 0.1) {
      headers['content-type'] = 'application/json';
      body = '{"purpose": "billing", "fields": [';
    } else if (b < 0.15) {
      headers['content-type'] = 'application/json';
      body = deepNest(2000);
    } else if (b < 0.2) {
      headers['content-type'] = pick(rnd, ['text/plain', 'application/xml', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded']);
      body = 'a=1&b=2';
    } else if (b < 0.25) {
      headers['content-type'] = 'application/json';
      body = '{"__proto__":{"isAdmin":true},"constructor":{"prototype":{"x":1}}}';
    } else if (b < 0.3) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify({ subjects: Array.from({ length: 1500 }, (_, k) => `sub_${k}`), purpose: 'billing', fields: ['name'] });
    } else {
      headers['content-type'] = 'application/json';
      const o = Object.create(null);
      for (let k = 0; k < 1 + Math.floor(rnd() * 5); k++) o[pick(rnd, FIELD_NAMES)] = hostileValue(rnd);
      if (ids.length && rnd() < 0.3) o.subjects = [pick(rnd, ids)];
      body = JSON.stringify(rnd() < 0.1 ? hostileValue(rnd) : o);
    }
  }
  return { method, url, headers, body };
}

/** A stack trace, an internal path or an engine error in a response body. */
export function leaksInternals(text) {
  return /\n\s+at\s|\bat [\w.<>]+ \(|node_modules|FST_ERR|\/src\/|\.ts:\d+|SqliteError|error: relation|syntax error at/i.test(text);
}

/**
 * Shapes of PI in a body: a mainland mobile (optionally +86), an 18-character ID number, an e-mail
 * address. UUIDs (request ids) and long hex runs (hashes) are removed first: their digit runs are
 * not PI. The same shapes as src/lib/pishape.ts (the server's last guard); test/app/echo.security.test.ts
 * checks that the two agree.
 */
export const PI_SHAPES = [
  /(?<!\d)(?<!\d\.)(?:\+?86[-\s]?)?1[3-9]\d{9}(?!\d)/,
  /(?<![0-9A-Za-z])(?<!\d\.)\d{17}[0-9Xx](?![0-9A-Za-z])/,
  /[\w.+-]+@[\w-]+(?:\.[\w-]+)+/,
];
export function looksLikePi(text) {
  const t = text
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, '<uuid>')
    .replace(/[0-9a-f]{32,}/gi, '<hex>');
  return PI_SHAPES.some((re) => re.test(t));
}

/**
 * Successful answers that carry PI-shaped text by design, not a subject's PI: published consent
 * notices (their text names the processor's and each recipient's contact, as PIPL art. 17 and 23
 * require) and the recipient register (a third party's business contact). Anything else with a
 * mobile, ID number or e-mail shape fails the run.
 */
export function piByDesign(method, url) {
  return method === 'GET' && /^\/v1\/(notices|recipients)(\/[^/?]*)?(\?|$)/.test(url);
}
