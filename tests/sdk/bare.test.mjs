// A runtime as bare as Jest's jsdom environment (the usual React test setup): no
// TextDecoder, no TextEncoder, no fetch. The browser build (index.cjs, what Jest picks
// under jsdom's `browser` condition) loads, checks and queues events there with no
// polyfill, and a send without `fetch` fails loudly, naming the option, keeping the
// events. Each case runs in a child process whose globals are removed before the require.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const pkg = fileURLToPath(new URL('../../sdk/pkg/index.cjs', import.meta.url));

function bare(body) {
  const script = `
    // Node's Response, which the stub answers with, needs TextEncoder to load: loaded first.
    new Response('');
    delete globalThis.TextDecoder;
    delete globalThis.TextEncoder;
    const nodeFetch = globalThis.fetch;
    delete globalThis.fetch;
    const { Edgemeter } = require(${JSON.stringify(pkg)});
    (async () => { ${body} })().catch((e) => { console.error(e); process.exit(1); });
  `;
  return new Promise((resolve, reject) =>
    execFile(process.execPath, ['-e', script], (e, stdout, stderr) => (e ? reject(new Error(`${e.message}\n${stderr}`)) : resolve(JSON.parse(stdout)))),
  );
}

test('without TextDecoder, TextEncoder or fetch: the package loads and tracks; a send names `fetch` and keeps the events', async () => {
  const out = await bare(`
    const errors = [];
    const m = new Edgemeter({ apiKey: 'pk_x', baseUrl: 'https://x.test', onError: (e) => errors.push(e.code) });
    const keys = [m.track({ customerId: 'cus_1', eventName: 'invoices', properties: { city: 'Zürich 🏔' } })];
    let invalid;
    try { m.track({ customerId: 'user-42', eventName: 'invoices' }); } catch (e) { invalid = [e.code, e.message.slice(0, 31)]; }
    const refused = await m.flush().then(() => null, (e) => [e.code, e.field, e.message.slice(0, 19), e.idempotencyKeys]);
    console.log(JSON.stringify({ keys, invalid, refused, pending: m.pending, errors }));
  `);
  assert.deepEqual(out.invalid, ['invalid_customer_id', "`customerId` must be a customer"]);
  assert.deepEqual(out.refused, ['invalid_option', 'fetch', 'option `fetch` must', out.keys]);
  assert.equal(out.pending, 1);
  assert.deepEqual(out.errors, ['invalid_option']);
});

test('without TextDecoder or TextEncoder, given a fetch: non-ASCII events arrive intact', async () => {
  const out = await bare(`
    const sent = [];
    const fetch = async (url, init) => {
      const text = Buffer.from(init.body).toString('utf8');
      sent.push(...JSON.parse(text).events.map((e) => e.properties.city));
      const results = JSON.parse(text).events.map((e) => ({ idempotency_key: e.idempotency_key, status: 'accepted' }));
      return new Response(JSON.stringify({ accepted: results.length, duplicates: 0, rejected: 0, results }));
    };
    const m = new Edgemeter({ apiKey: 'pk_x', baseUrl: 'https://x.test', fetch });
    for (const city of ['Zürich', 'Kraków 🏰', '東京']) m.track({ customerId: 'cus_1', eventName: 'invoices', properties: { city } });
    const r = await m.shutdown();
    console.log(JSON.stringify({ accepted: r.accepted, sent }));
  `);
  assert.deepEqual(out, { accepted: 3, sent: ['Zürich', 'Kraków 🏰', '東京'] });
});
