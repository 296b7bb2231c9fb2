// What gzip does to @edgemeter/sdk's batches (BENCHMARKS.md, "Compressed batches"):
// bytes on the wire per event, plain and gzipped, and the CPU it costs on each side.
//
// Realistic events, not copies of one: 200 customers, 6 event names, a fresh UUIDv7 key
// and a timestamp each, decimal values, and 2 to 5 properties from a mix of repeated
// values (region, plan, model) and unique ones (a request id, a user id). The client
// (sdk/pkg, Node build) sends them to a stub fetch, batches of 1,000; the stub records
// each body as sent. Client CPU: the same batches gzipped by CompressionStream, as the
// client does, per batch and per event. Server CPU: each gzipped batch inflated by
// DecompressionStream (the Web API the worker calls; workerd and Node both use zlib for
// it), as a stand-in for the worker's cost, which wrangler dev does not isolate.
//
// Run: `npm run sdk:build`, then `node tests/bench/sdk-track/gzip.mjs` (no server).

import { performance } from 'node:perf_hooks';
import { gunzipSync } from 'node:zlib';
import { Edgemeter } from '../../../sdk/pkg/node.js';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 20_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);

const pick = (list, i) => list[i % list.length];
/** Deterministic pseudo-random text in the ids' alphabet (xorshift32), so runs compare. */
let seed = 0x9e3779b9;
function randomText(n) {
  const alphabet = '0123456789abcdefghjkmnpqrstvwxyz';
  let out = '';
  for (let i = 0; i < n; i++) {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    out += alphabet[(seed >>> 0) % 32];
  }
  return out;
}
const CUSTOMERS = Array.from({ length: 200 }, () => `cus_01jf${randomText(22)}`);
const USERS = Array.from({ length: 2000 }, () => `usr_${randomText(12)}`);
const NAMES = ['api_calls', 'invoices', 'ocr_pages', 'kyc_checks', 'storage_gb_hours', 'ach_payments'];
const REGIONS = ['eu-west-1', 'us-east-1', 'us-west-2', 'ap-southeast-1', 'sa-east-1'];
const PLANS = ['free', 'team', 'enterprise'];
const MODELS = ['ocr-v3', 'ocr-v3-fast', 'kyc-basic', 'kyc-plus'];

function event(i) {
  const properties = { region: pick(REGIONS, i * 31), request_id: `req_${randomText(16)}` };
  if (i % 2) properties.plan = pick(PLANS, i);
  if (i % 3) properties.model = pick(MODELS, i * 13);
  if (i % 5 === 0) properties.user_id = pick(USERS, i * 7);
  return {
    customerId: pick(CUSTOMERS, i * 17),
    eventName: pick(NAMES, i * 7),
    value: i % 4 === 0 ? `${i % 97}.${i % 10}` : (i % 50) + 1,
    properties,
  };
}

/** The bodies the client sends for EVENTS events, and whether each went gzipped. */
async function capture() {
  const bodies = [];
  const fetch = async (url, init) => {
    const gz = init.headers['content-encoding'] === 'gzip';
    const raw = Buffer.from(init.body);
    const json = gz ? gunzipSync(raw) : raw;
    bodies.push({ raw, json, gz });
    const events = JSON.parse(json.toString('utf8')).events;
    const results = events.map((e) => ({ idempotency_key: e.idempotency_key, status: 'accepted' }));
    return new Response(JSON.stringify({ accepted: events.length, duplicates: 0, rejected: 0, results }));
  };
  const m = new Edgemeter({ apiKey: 'pk_x', baseUrl: 'https://x.test', fetch, flushAt: 1000, maxQueueSize: EVENTS + 1 });
  for (let i = 0; i < EVENTS; i++) m.track(event(i));
  const r = await m.shutdown({ timeoutMs: 600_000 });
  if (r.accepted !== EVENTS) throw new Error(`delivered ${r.accepted} of ${EVENTS}`);
  return bodies;
}

async function through(stream, bytes) {
  return new Uint8Array(await new Response(new Blob([bytes]).stream().pipeThrough(stream)).arrayBuffer());
}

const bodies = await capture();
const raw = bodies.reduce((n, b) => n + b.raw.length, 0);
const json = bodies.reduce((n, b) => n + b.json.length, 0);
const zipped = await Promise.all(bodies.map((b) => through(new CompressionStream('gzip'), b.json)));

const gzipMs = [];
const gunzipMs = [];
for (let round = 0; round < ROUNDS; round++) {
  let t = performance.now();
  for (const b of bodies) await through(new CompressionStream('gzip'), b.json);
  gzipMs.push(performance.now() - t);
  t = performance.now();
  for (const z of zipped) await through(new DecompressionStream('gzip'), z);
  gunzipMs.push(performance.now() - t);
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const f = (x, d = 1) => x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
const perEventUs = (ms) => f((median(ms) * 1000) / EVENTS, 2);
const perBatchMs = (ms) => f(median(ms) / bodies.length, 2);

console.log(`Node ${process.version}; ${EVENTS.toLocaleString('en-US')} realistic events in ${bodies.length} batches (${bodies.filter((b) => b.gz).length} sent gzipped); CPU: median of ${ROUNDS} rounds\n`);
console.log('| | bytes per event | per 1,000-event batch |');
console.log('| --- | ---: | ---: |');
console.log(`| JSON (as before) | ${f(json / EVENTS)} | ${f(json / bodies.length / 1024)} KiB |`);
console.log(`| on the wire, gzipped | ${f(raw / EVENTS)} | ${f(raw / bodies.length / 1024)} KiB |`);
console.log(`\n| CPU | µs per event | ms per 1,000-event batch |`);
console.log('| --- | ---: | ---: |');
console.log(`| client: CompressionStream gzip | ${perEventUs(gzipMs)} | ${perBatchMs(gzipMs)} |`);
console.log(`| server: DecompressionStream gunzip | ${perEventUs(gunzipMs)} | ${perBatchMs(gunzipMs)} |`);
