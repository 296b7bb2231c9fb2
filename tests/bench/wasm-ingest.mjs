// The core ingest path (parse, validate every rule, canonical hash, aggregate) compiled
// to wasm and run under Node, on 1,000-event batches. Run through `make bench`, which
// builds the module first; prints events/s and ns/event, best of several rounds.
import { readFile } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const pkg = process.argv[2];
if (!pkg) {
  console.error('usage: node wasm-ingest.mjs <wasm-bindgen nodejs output dir>');
  process.exit(2);
}
const { benchIngestPath } = require(`${pkg}/edgemeter_sdk.js`);

const now = Date.parse('2026-11-25T12:00:00Z');
const regions = ['eu', 'us', 'apac'];
function batch() {
  const events = [];
  for (let i = 0; i < 1000; i++) {
    const t = new Date(now - (i % 3600) * 1000).toISOString().replace('Z', '+00:00');
    events.push({
      idempotency_key: randomUUID(),
      customer_id: `cus_01m898ez2547b4fhya5d0q${String(i % 50).padStart(4, '0')}`,
      event_name: 'invoices',
      value: i % 7 === 0 ? `${i}.25` : i % 100,
      timestamp: t,
      properties: { region: regions[i % 3], document_type: 'invoice', pages: (i % 9) + 1 },
    });
  }
  return new TextEncoder().encode(JSON.stringify({ events }));
}

const bodies = Array.from({ length: 20 }, batch);
const bytes = bodies.reduce((n, b) => n + b.length, 0) / bodies.length;
// Warm up (JIT-compiles the wasm tiers), then best of 7 rounds of 20 batches.
for (let i = 0; i < 50; i++) benchIngestPath(bodies[i % bodies.length], now);
let best = Infinity;
for (let round = 0; round < 7; round++) {
  const t0 = process.hrtime.bigint();
  let valid = 0;
  for (const b of bodies) valid += benchIngestPath(b, now);
  const ns = Number(process.hrtime.bigint() - t0);
  if (valid !== 1000 * bodies.length) throw new Error(`only ${valid} events were valid`);
  best = Math.min(best, ns / valid);
}
console.log(`wasm (Node ${process.version}), 1,000-event batches of ~${Math.round(bytes / 1000)} B/event:`);
console.log(`  parse + validate + hash + aggregate: ${best.toFixed(0)} ns/event, ${(1e9 / best / 1e6).toFixed(2)} M events/s`);
