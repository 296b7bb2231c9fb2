// Benchmark: @edgemeter/sdk `track()` against posthog-node's `capture()` (`make bench-sdk`).
//
// The parent process runs a local HTTP receiver on 127.0.0.1 that stands in for both
// services: edgemeter's `POST /v1/usage/ingest` (answered like the server: one
// `accepted` result per event) and posthog's `POST /batch/` (gzip or not). Each scenario
// runs in its own child process (`node run.mjs --child NAME PORT`), so one SDK's heap and
// JIT state cannot tilt the other's numbers; its base URL carries a prefix `/r/NAME` so
// the receiver counts per scenario. Each child warms up with a separate client first.
//
// Per call: the wall time of a tight loop of N calls, divided by N. edgemeter's track()
// validates (in wasm), keys, copies and queues the event in the call, and its batches
// build the wire JSON when they are sent, in the background. posthog's capture() returns
// at once and enqueues the event in a promise chain; its row also gives the time until
// the last event is in its queue ("enqueued"), which the process pays all the same.
// "First call to all delivered" counts everything, the sending included.
//
// The default-queue runs mix two costs per call: queued events, then refused ones (a
// throw for edgemeter, a silent drop of the oldest event for posthog-node).
//
// Needs sdk/pkg (`npm run sdk:build`) and `npm ci` in this folder.

import { spawn } from 'node:child_process';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';

const N = Number(process.env.BENCH_EVENTS ?? 200_000);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 20_000);
// Each scenario runs this many times, rounds interleaved, in fresh processes: one tight
// loop's time swings by over 1.5x from run to run on this VM (when the collector runs
// a full pass), so the table gives each row's median round and every round's figure.
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const CUSTOMER = 'cus_01J9Z3K4M5N6P7Q8R9S0T1V2W3';

const SCENARIOS = {
  // The burst fits in the queue.
  edgemeter: { sdk: 'edgemeter', label: 'edgemeter `track()`', options: { maxQueueSize: 250_000 } },
  posthog: {
    sdk: 'posthog',
    label: 'posthog-node `capture()`, no gzip',
    // Batches as large as edgemeter's (up to 1,000 events per request, one sent per 100 queued).
    options: { flushAt: 100, maxBatchSize: 1000, maxQueueSize: 250_000, disableCompression: true },
  },
  posthogGzip: {
    sdk: 'posthog',
    label: 'posthog-node `capture()`, gzip (its default)',
    options: { flushAt: 100, maxBatchSize: 1000, maxQueueSize: 250_000 },
  },
  // Default queue sizes: what each does with a burst larger than its queue.
  edgemeterDefaultQueue: { sdk: 'edgemeter', label: 'edgemeter `track()`, default maxQueueSize (10,000)', options: {} },
  posthogDefaultQueue: {
    sdk: 'posthog',
    label: 'posthog-node `capture()`, default maxQueueSize (1,000)',
    options: { disableCompression: true },
  },
};

if (process.argv[2] === '--child') {
  await child(process.argv[3], process.argv[4], Number(process.argv[5]));
} else {
  await parent();
}

// ---------------------------------------------------------------- parent: receiver + table

async function parent() {
  const stats = new Map();
  const stat = (name) => {
    if (!stats.has(name)) stats.set(name, { requests: 0, events: 0, rawBytes: 0, jsonBytes: 0, gzipRequests: 0 });
    return stats.get(name);
  };
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const m = /^\/r\/([^/]+)(\/.*)$/.exec(req.url ?? '');
      if (req.method !== 'POST' || !m) {
        res.writeHead(404).end();
        return;
      }
      const [, name, path] = m;
      const raw = Buffer.concat(chunks);
      const gz = /gzip/i.test(req.headers['content-encoding'] ?? '');
      const json = gz ? gunzipSync(raw) : raw;
      const body = JSON.parse(json.toString('utf8'));
      const s = stat(name);
      s.requests++;
      s.rawBytes += raw.length;
      s.jsonBytes += json.length;
      if (gz) s.gzipRequests++;
      if (path === '/v1/usage/ingest') {
        const events = body.events;
        s.events += events.length;
        const results = events.map((e) => ({ idempotency_key: e.idempotency_key, status: 'accepted' }));
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ accepted: events.length, duplicates: 0, rejected: 0, results }));
      } else if (path === '/batch/') {
        s.events += body.batch.length;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"status":1}');
      } else {
        res.writeHead(404).end();
      }
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = server.address().port;

  const rounds = new Map(Object.keys(SCENARIOS).map((name) => [name, []]));
  for (let round = 1; round <= ROUNDS; round++) {
    for (const name of Object.keys(SCENARIOS)) {
      const out = await runChild(name, round, port);
      rounds.get(name).push({ ...out, recv: { ...stat(`${name}.${round}`) } });
    }
  }
  const rows = [];
  for (const [name, runs] of rounds) {
    const sorted = [...runs].sort((a, b) => a.loopMs - b.loopMs);
    const median = sorted[Math.floor((sorted.length - 1) / 2)];
    rows.push({ name, ...SCENARIOS[name], ...median, all: runs.map((r) => r.loopMs), runs });
  }
  server.close();

  const nf = (x, d = 0) => x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
  const us = (ms, n) => nf((ms * 1000) / n, 2);
  console.log(`\nNode ${process.version}, ${N.toLocaleString('en-US')} calls per run in a tight loop, after ${WARMUP.toLocaleString('en-US')} warm-up calls; receiver on 127.0.0.1; each row is the median of ${ROUNDS} rounds (by µs per call).\n`);
  console.log('| run | µs per call (sync), median | every round | µs per event until enqueued | calls/s | events delivered / accepted by the call | refused by a throw | lost silently | µs per event, first call to all delivered | wire bytes per event (raw / JSON) | requests |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of rows) {
    const enq = r.enqueuedMs === null ? '(in the call)' : us(r.enqueuedMs, N);
    const sent = N - r.thrown;
    const delivered = `${nf(r.recv.events)} / ${nf(sent)}`;
    const perEv = (b) => (r.recv.events ? nf(b / r.recv.events, 1) : '–');
    console.log(
      `| ${r.label} | ${us(r.loopMs, N)} | ${r.all.map((ms) => us(ms, N)).join(', ')} | ${enq} | ${nf(N / ((r.enqueuedMs ?? r.loopMs) / 1000) / 1e6, 2)} M | ${delivered} | ${nf(r.thrown)}${r.thrownCodes ? ` (${r.thrownCodes})` : ''} | ${nf(sent - r.recv.events)} | ${us(r.totalMs, N)} | ${perEv(r.recv.rawBytes)} / ${perEv(r.recv.jsonBytes)} | ${nf(r.recv.requests)} |`,
    );
  }
  console.log('\nDetails (JSON):');
  for (const r of rows) {
    console.log(JSON.stringify({ run: r.name, options: r.options, loopMs: r.loopMs, enqueuedMs: r.enqueuedMs, totalMs: r.totalMs, thrown: r.thrown, thrownCodes: r.thrownCodes, flush: r.flush, errors: r.errors, receiver: r.recv }));
  }
  for (const r of rows) {
    const lost = r.runs.reduce((sum, x) => sum + (N - x.thrown - x.recv.events), 0);
    if (lost === 0) continue;
    const errors = r.runs.reduce((sum, x) => sum + (x.errors.count ?? 0), 0);
    console.log(`\nLost silently: ${r.label}: ${nf(lost)} of ${nf(N * ROUNDS)} calls over ${ROUNDS} rounds returned normally, reported no error (${errors} 'error' events) and never arrived.`);
  }
}

function runChild(name, round, port) {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [fileURLToPath(import.meta.url), '--child', name, String(round), String(port)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    p.stdout.on('data', (c) => (out += c));
    p.on('error', reject);
    p.on('exit', (code) => {
      const line = out.trim().split('\n').pop();
      if (code !== 0 || !line) return reject(new Error(`child ${name} exited ${code}: ${out}`));
      resolve(JSON.parse(line));
    });
  });
}

// ---------------------------------------------------------------- child: one SDK, one scenario

async function child(name, round, port) {
  const sc = SCENARIOS[name];
  const base = `http://127.0.0.1:${port}/r`;
  const run = `${name}.${round}`;
  const result = sc.sdk === 'edgemeter' ? await runEdgemeter(sc, base, run) : await runPosthog(sc, base, run);
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

async function runEdgemeter(sc, base, name) {
  const { Edgemeter } = await import('../../../sdk/pkg/index.js');
  const errors = {};
  const make = (baseUrl, options) =>
    new Edgemeter({ apiKey: 'ik_bench', baseUrl, ...options, onError: (e) => void (errors[e.code] = (errors[e.code] ?? 0) + 1) });

  const warm = make(`${base}/warmup-${name}`, { maxQueueSize: 250_000 });
  for (let i = 0; i < WARMUP; i++) warm.track({ customerId: CUSTOMER, eventName: 'api_calls', value: 1, properties: { region: 'eu' } });
  await warm.shutdown();
  for (const k of Object.keys(errors)) delete errors[k];

  const m = make(`${base}/${name}`, sc.options);
  let thrown = 0;
  const codes = {};
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    try {
      m.track({ customerId: CUSTOMER, eventName: 'api_calls', value: 1, properties: { region: 'eu' } });
    } catch (e) {
      thrown++;
      codes[e.code] = (codes[e.code] ?? 0) + 1;
    }
  }
  const t1 = performance.now();
  const flush = await m.shutdown();
  const t2 = performance.now();
  return {
    loopMs: t1 - t0,
    enqueuedMs: null,
    totalMs: t2 - t0,
    thrown,
    thrownCodes: Object.entries(codes).map(([k, v]) => `${k}: ${v}`).join(', '),
    flush: { accepted: flush.accepted, duplicates: flush.duplicates, rejected: flush.rejected.length, failed: flush.failed.length },
    errors,
  };
}

async function runPosthog(sc, base, name) {
  const { PostHog } = await import('posthog-node');
  const errors = { count: 0 };
  const make = (host, options) => {
    const ph = new PostHog('phc_bench', { host, flushInterval: 10_000, ...options });
    ph.on('error', () => errors.count++);
    return ph;
  };
  const capture = (ph) => ph.capture({ distinctId: CUSTOMER, event: 'api_calls', properties: { value: 1, region: 'eu' } });

  const warm = make(`${base}/warmup-${name}`, { ...sc.options, maxQueueSize: 250_000 });
  for (let i = 0; i < WARMUP; i++) capture(warm);
  await warm.shutdown();
  errors.count = 0;

  const ph = make(`${base}/${name}`, sc.options);
  let enqueued = 0;
  let allEnqueued;
  const done = new Promise((resolve) => (allEnqueued = resolve));
  ph.on('capture', () => {
    if (++enqueued === N) allEnqueued(performance.now());
  });
  let thrown = 0;
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    try {
      capture(ph);
    } catch {
      thrown++;
    }
  }
  const t1 = performance.now();
  const tEnq = await done;
  await ph.shutdown(120_000);
  const t2 = performance.now();
  return { loopMs: t1 - t0, enqueuedMs: tEnq - t0, totalMs: t2 - t0, thrown, thrownCodes: '', flush: null, errors };
}
