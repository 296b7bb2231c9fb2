// The floor under `track()` in run.mjs's tight loop: a tracker that only keys (UUIDv7
// text from pooled random bytes), copies and queues each event, with no check and no
// encoding, against the real `track()`, each in the same loop of 200,000 calls that
// keeps every event queued. `node floor.mjs minimal` or `node floor.mjs track`; run each
// a few times (BENCHMARKS.md). Needs sdk/pkg (`npm run sdk:build`).

import { Edgemeter } from '../../../sdk/pkg/index.js';

const N = 200_000;
const WARMUP = 20_000;
const event = { customerId: 'cus_01J9Z3K4M5N6P7Q8R9S0T1V2W3', eventName: 'api_calls', value: 1, properties: { region: 'eu' } };

const HEX = new Uint16Array(512);
for (let i = 0; i < 256; i++) {
  const h = i.toString(16).padStart(2, '0');
  HEX[2 * i] = h.charCodeAt(0);
  HEX[2 * i + 1] = h.charCodeAt(1);
}
const KEY = new Array(36).fill(0x2d);
const POOL = new Uint8Array(4096);
let at = POOL.length;
/** The 16 bytes' positions in a UUID's text. */
const SLOTS = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];

function key() {
  if (at + 16 > POOL.length) {
    crypto.getRandomValues(POOL);
    at = 0;
  }
  for (let i = 0; i < 16; i++) {
    const b = POOL[at + i];
    KEY[SLOTS[i]] = HEX[2 * b];
    KEY[SLOTS[i] + 1] = HEX[2 * b + 1];
  }
  at += 16;
  return String.fromCharCode.apply(null, KEY);
}

const queue = [];
function minimal(e) {
  const now = Date.now();
  const k = key();
  const props = {};
  for (const p in e.properties) props[p] = e.properties[p];
  queue.push({ seq: queue.length, key: k, customerId: e.customerId, eventName: e.eventName, value: e.value, timestamp: now, props });
  return k;
}

const meter = new Edgemeter({
  apiKey: 'ik_bench',
  baseUrl: 'http://127.0.0.1:1',
  maxQueueSize: 1e7,
  flushAt: 1000,
  flushIntervalMs: 1e9,
  fetch: () => new Promise(() => {}), // never answers: everything stays queued, as in the loop of run.mjs
});
const which = process.argv[2] ?? 'track';
const f = which === 'minimal' ? minimal : (e) => meter.track(e);
for (let i = 0; i < WARMUP; i++) f(event);
const t0 = performance.now();
for (let i = 0; i < N; i++) f(event);
console.log(`${which}: ${(((performance.now() - t0) * 1000) / N).toFixed(2)} µs per call`);
process.exit(0);
