/**
 * @jest-environment jsdom
 */
// Jest with jsdom, the usual React test setup, with no polyfill: jsdom gives no
// TextDecoder, TextEncoder or fetch. The package (its browser build, by jsdom's export
// conditions) loads and tracks; a flush without a fetch rejects naming `fetch` and keeps
// the events; with the fetch an app passes (here one on node:http, standing in for the
// app's own), every event arrives. Config (JSON) in config.json beside this file.

const http = require('node:http');
const { Buffer } = require('node:buffer');
const { Edgemeter } = require('@edgemeter/sdk');
const c = require('./config.json');

/** A fetch on node:http, as much of one as the client uses. */
function httpFetch(url, init) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: init.method, headers: init.headers }, (res) => {
      const chunks = [];
      res.on('data', (b) => chunks.push(b));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode, headers: { get: (k) => res.headers[k.toLowerCase()] ?? null }, text: async () => text });
      });
    });
    req.on('error', reject);
    init.signal?.addEventListener('abort', () => req.destroy(new Error('aborted')));
    req.end(init.body === undefined ? undefined : Buffer.from(init.body));
  });
}

test('tracks under jsdom with no polyfill, and delivers with the fetch it is given', async () => {
  expect(typeof document).toBe('object');
  const bare = new Edgemeter({ apiKey: c.apiKey, baseUrl: c.baseUrl, onError: () => {} });
  bare.track({ customerId: c.customerId, eventName: c.eventName, value: 2 });
  await expect(bare.flush()).rejects.toMatchObject({ code: 'invalid_option', field: 'fetch' });
  expect(bare.pending).toBe(1);

  const m = new Edgemeter({ apiKey: c.apiKey, baseUrl: c.baseUrl, fetch: httpFetch });
  for (let i = 0; i < c.n; i++) m.track({ customerId: c.customerId, eventName: c.eventName, value: 2 });
  expect(() => m.track({ customerId: c.customerId, eventName: c.eventName, value: 'lots' })).toThrow(
    expect.objectContaining({ code: 'invalid_value', field: 'value' }),
  );
  const r = await m.shutdown();
  expect([r.accepted, r.rejected.length, r.failed.length]).toEqual([c.n, 0, 0]);
});
