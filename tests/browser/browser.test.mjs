// @edgemeter/sdk in a real browser: headless Chromium (Debian's, driven by playwright-core)
// loads a page that imports the package from sdk/pkg/ and reports usage with a customer
// token to a real server on another origin (so CORS is exercised, preflights included).
//
// Run by `tests/tests/sdk_browser.rs`, which starts the server, makes one customer and
// token per scenario and passes them in EDGEMETER_BROWSER (JSON); it checks the usage
// again once this file has passed. Alone (`node --test tests/browser/`) it fails: there
// is no server.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const cfg = JSON.parse(process.env.EDGEMETER_BROWSER ?? 'null');
assert.ok(cfg, 'EDGEMETER_BROWSER is not set: run `cargo test -p edgemeter-tests --test sdk_browser`');
// EDGEMETER_SDK_PKG: another build of the package to test (a folder, ending in `/`).
const pkgDir = process.env.EDGEMETER_SDK_PKG ?? fileURLToPath(new URL('../../sdk/pkg/', import.meta.url));

// Flags from TOOLCHAIN.md: without the networking ones Chromium keeps dialling out.
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
const TYPES = { '.js': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json', '.ts': 'text/plain' };
const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>edgemeter browser test</title>
<script type="module">
  import { Edgemeter } from '/pkg/index.js';
  window.Edgemeter = Edgemeter;
  window.ready = true;
</script>`;

/** An app bundled with the package by esbuild (the root's devDependency), as a bundler user ships it. */
const BUNDLE_PAGE = `<!doctype html>
<meta charset="utf-8">
<title>edgemeter browser test, bundled</title>
<script type="module" src="/bundle/app.js"></script>`;

let browser;
let site;
let origin;
let bundleDir;

/**
 * Bundles a small app that imports the package, for browsers, into a temporary folder.
 * Nothing is copied beside it: the package carries its wasm in its JavaScript.
 */
async function bundle() {
  const dir = await mkdtemp(join(tmpdir(), 'edgemeter-bundle-'));
  const entry = join(dir, 'entry.js');
  await writeFile(entry, `import { Edgemeter } from ${JSON.stringify(join(pkgDir, 'index.js'))};\nwindow.Edgemeter = Edgemeter;\nwindow.ready = true;\n`);
  const esbuild = fileURLToPath(new URL('../../node_modules/.bin/esbuild', import.meta.url));
  execFileSync(esbuild, [entry, '--bundle', '--format=esm', '--platform=browser', `--outfile=${join(dir, 'out/app.js')}`], { stdio: 'pipe' });
  return join(dir, 'out/');
}

/** The page's origin: a static server for the page and sdk/pkg/, not the API's. */
function serve() {
  return new Promise((resolve) => {
    const server = http.createServer(async (req, res) => {
      const path = new URL(req.url, 'http://x').pathname;
      if (path.startsWith('/pkg/')) {
        const file = normalize(join(pkgDir, path.slice('/pkg/'.length)));
        if (!file.startsWith(pkgDir)) return res.writeHead(403).end();
        try {
          const body = await readFile(file);
          return res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(body);
        } catch {
          return res.writeHead(404).end();
        }
      }
      if (path.startsWith('/bundle/') && bundleDir) {
        const file = normalize(join(bundleDir, path.slice('/bundle/'.length)));
        if (!file.startsWith(bundleDir)) return res.writeHead(403).end();
        try {
          const body = await readFile(file);
          return res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(body);
        } catch {
          return res.writeHead(404).end();
        }
      }
      if (path === '/favicon.ico') return res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(path === '/bundled' ? BUNDLE_PAGE : PAGE);
    });
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

before(async () => {
  bundleDir = await bundle();
  site = await serve();
  origin = `http://127.0.0.1:${site.address().port}`;
  assert.notEqual(origin, new URL(cfg.baseUrl).origin);
  browser = await chromium.launch({ executablePath: cfg.chromium, args: CHROMIUM_ARGS, timeout: 30_000 });
});

after(async () => {
  await browser?.close();
  site?.close();
  if (bundleDir) await rm(join(bundleDir, '..'), { recursive: true, force: true });
});

/** A fresh browser context (own cache, own localStorage) with the page (`/` or `/bundled`) loaded. */
async function openPage(path = '/') {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e));
  await load(page, () => page.goto(`${origin}${path}`));
  return { context, page, errors };
}

async function load(page, navigate) {
  await navigate();
  await page.waitForFunction(() => window.ready === true, null, { timeout: 20_000 });
}

/** One metric's `{ quantity, eventCount }` for a customer, read with the secret key. */
async function usage(customer) {
  const res = await fetch(`${cfg.baseUrl}/v1/customers/${customer}/usage`, {
    headers: { authorization: `Bearer ${cfg.secretKey}` },
  });
  assert.equal(res.status, 200);
  const m = (await res.json()).metrics.find((x) => x.code === cfg.metric);
  return m ? { quantity: m.quantity, eventCount: m.event_count } : { quantity: '0', eventCount: 0 };
}

/**
 * Waits (with a deadline, polling the API) until `count` events are counted, then
 * checks the usage is exactly that: nothing lost, nothing counted twice.
 */
async function expectUsage(customer, count) {
  const deadline = Date.now() + 20_000;
  let got = await usage(customer);
  while (got.eventCount < count && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    got = await usage(customer);
  }
  // Late copies (a keepalive request and a saved event both arriving) would show now.
  await new Promise((r) => setTimeout(r, 500));
  got = await usage(customer);
  assert.deepEqual(got, { quantity: cfg.quantity(count), eventCount: count });
}
cfg.quantity = (n) => {
  // Every event is worth 2.5: n × 25 tenths.
  const t = n * 25;
  return t % 10 === 0 ? String(t / 10) : `${Math.floor(t / 10)}.${t % 10}`;
};

/**
 * Creates `window.meter` in the page (its `onError` reports go to `window.reported`) and
 * tracks `n` events worth 2.5 each, with a property of `pad` characters.
 */
async function track(page, scenario, n, options = {}, pad = 0) {
  await page.evaluate(
    ({ apiKey, baseUrl, customerId, eventName, n, options, pad }) => {
      window.reported ??= [];
      window.meter ??= new window.Edgemeter({ apiKey, baseUrl, ...options, onError: (e) => window.reported.push(e.code) });
      for (let i = 0; i < n; i++) {
        const properties = pad > 0 ? { n: i, pad: 'x'.repeat(pad) } : { n: i };
        window.meter.track({ customerId, eventName, value: '2.5', properties });
      }
    },
    { apiKey: scenario.token, baseUrl: cfg.baseUrl, customerId: scenario.customer, eventName: cfg.eventName, n, options, pad },
  );
}

const reported = (page) => page.evaluate(() => window.reported);

/**
 * Headless Chromium keeps every page visible (Playwright emulates focus), so a page is
 * told it is hidden, or visible again, as a browser does: visibilityState, then the event.
 */
function setVisibility(page, state) {
  return page.evaluate((state) => {
    Object.defineProperty(document, 'visibilityState', { value: state, configurable: true });
    document.dispatchEvent(new Event('visibilitychange'));
  }, state);
}

/** No timer flush during a test: only flush(), a hidden page or a new page can send. */
const NO_TIMER = { flushAt: 1000, flushIntervalMs: 600_000 };

test('a page tracks events and flushes: usage is exact', async () => {
  const s = cfg.scenarios.flush;
  const { context, page, errors } = await openPage();
  await track(page, s, s.events);
  const result = await page.evaluate(async () => {
    const r = await window.meter.flush();
    return { accepted: r.accepted, duplicates: r.duplicates, rejected: r.rejected.length, failed: r.failed.map((f) => f.error.code) };
  });
  assert.deepEqual(result, { accepted: s.events, duplicates: 0, rejected: 0, failed: [] });
  await expectUsage(s.customer, s.events);
  assert.deepEqual(await reported(page), []);
  assert.deepEqual(errors, []);
  await context.close();
});

test('the package bundled by esbuild for browsers works the same: usage is exact', async () => {
  const s = cfg.scenarios.bundled;
  const { context, page, errors } = await openPage('/bundled');
  await track(page, s, s.events);
  const accepted = await page.evaluate(async () => (await window.meter.flush()).accepted);
  assert.equal(accepted, s.events);
  await expectUsage(s.customer, s.events);
  assert.deepEqual(await reported(page), []);
  assert.deepEqual(errors, []);
  await context.close();
});

test('events tracked and never flushed arrive when the page is reloaded', async () => {
  const s = cfg.scenarios.reload;
  const { context, page, errors } = await openPage();
  await track(page, s, s.events, NO_TIMER);
  assert.equal(await page.evaluate(() => window.meter.pending), s.events);
  // No flush(): the keepalive request made on pagehide carries them past the reload.
  await load(page, () => page.reload());
  await expectUsage(s.customer, s.events);
  assert.deepEqual(errors, []);
  await context.close();
});

test('a page that becomes hidden sends its queue at once, and goes on when visible', async () => {
  const s = cfg.scenarios.hidden;
  const { context, page, errors } = await openPage();
  await track(page, s, s.events - 5, NO_TIMER);
  await setVisibility(page, 'hidden');
  await expectUsage(s.customer, s.events - 5);
  assert.equal(await page.evaluate(() => window.meter.pending), 0);
  await setVisibility(page, 'visible');
  await track(page, s, 5);
  const result = await page.evaluate(async () => (await window.meter.flush()).accepted);
  assert.equal(result, 5);
  await expectUsage(s.customer, s.events);
  assert.deepEqual(await reported(page), []);
  assert.deepEqual(errors, []);
  await context.close();
});

test('a hidden page with more than 64 KiB queued sends it all: keepalive within the cap, the rest as usual', async () => {
  const s = cfg.scenarios.hiddenLarge;
  const { context, page, errors } = await openPage();
  // ~480 bytes an event. A keepalive request over Chromium's 64 KiB cap would be refused
  // (and retried, and refused again): everything arriving shows the client kept under it.
  await track(page, s, s.events, NO_TIMER, 300);
  await setVisibility(page, 'hidden');
  await expectUsage(s.customer, s.events);
  assert.equal(await page.evaluate(() => window.meter.pending), 0);
  assert.deepEqual(await reported(page), []);
  assert.deepEqual(errors, []);
  await context.close();
});

test('with persist, more than 64 KiB queued survives a reload and is counted once', async () => {
  const s = cfg.scenarios.persist;
  const persist = { key: 'edgemeter-browser-test' };
  const { context, page, errors } = await openPage();
  // ~480 bytes an event: far more than the 64 KiB keepalive requests may carry.
  await track(page, s, s.events, { ...NO_TIMER, persist }, 300);
  const queued = await page.evaluate(() => window.meter.pending);
  assert.equal(queued, s.events);
  await load(page, () => page.reload());
  // The new page's client loads what the old one saved and sends it first; what the old
  // one's keepalive request delivered comes back as duplicates.
  const result = await page.evaluate(async ({ apiKey, baseUrl, persist }) => {
    const saved = Object.keys(localStorage).filter((k) => k.startsWith(`${persist.key}:`)).length;
    window.meter = new window.Edgemeter({ apiKey, baseUrl, persist, flushIntervalMs: 600_000 });
    const loaded = window.meter.pending;
    const r = await window.meter.flush();
    const left = Object.keys(localStorage).filter((k) => k.startsWith(`${persist.key}:`)).length;
    return { saved, loaded, settled: r.accepted + r.duplicates, rejected: r.rejected.length, failed: r.failed.length, left };
  }, { apiKey: s.token, baseUrl: cfg.baseUrl, persist });
  assert.deepEqual(result, { saved: 1, loaded: s.events, settled: s.events, rejected: 0, failed: 0, left: 0 });
  await expectUsage(s.customer, s.events);
  assert.deepEqual(errors, []);
  await context.close();
});
