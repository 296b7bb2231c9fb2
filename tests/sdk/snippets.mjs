// Runs the SDK's README examples as a user would paste them: every ```js and ```ts block
// of sdk/js/README.md and of the root README's "SDK" section, against a real server
// that takes the local keys of `make dev` (pk_test_local, sk_test_local). Only the
// address is changed, from http://127.0.0.1:8787 to the server's. Each block runs in its
// own file in tests/sdk/.snippets/, where `@edgemeter/sdk` is sdk/pkg:
//
// - js with `require(`: CommonJS, under node; otherwise an ES module under node (an
//   exported `handler` is then called, as a serverless platform would);
// - ts exporting a Worker (`export default { … fetch`): under `wrangler dev` (the root's
//   wrangler), asked once with an `x-customer-id` header;
// - other ts: type-checked with tsc --strict when tests/consumers has TypeScript
//   installed, then stripped of its types by esbuild and run as an ES module.
//
// Blocks that need a page and a server of the user's to mint a token (a browser's
// `fetch('/api/edgemeter-token')`) are listed as not run here; tests/browser and the
// consumer matrix run that path. Every run must exit 0 with nothing on stderr, and the
// customer given in EDGEMETER_CUSTOMER_ID must then show exactly the events the
// examples tracked for it. Run by tests/tests/sdk_readme.rs, which passes
// EDGEMETER_SNIPPETS (JSON: baseUrl, customerId).

import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startWrangler } from '../consumers/wrangler.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '../..');
const work = join(here, '.snippets');
const cfg = JSON.parse(process.env.EDGEMETER_SNIPPETS ?? 'null');
if (!cfg) {
  console.error('EDGEMETER_SNIPPETS is not set: run `cargo test -p edgemeter-tests --test sdk_readme`');
  process.exit(2);
}
const DEV_URL = 'http://127.0.0.1:8787';
const env = {
  ...process.env,
  EDGEMETER_INGEST_KEY: 'pk_test_local',
  EDGEMETER_SECRET_KEY: 'sk_test_local',
  EDGEMETER_CUSTOMER_ID: cfg.customerId,
};

/** The fenced blocks of `text`: `{ lang, code, line }`. */
function blocks(text, file) {
  const out = [];
  const re = /^```(\w*)\n([\s\S]*?)^```$/gm;
  for (let m; (m = re.exec(text)) !== null; ) {
    out.push({ lang: m[1], code: m[2], where: `${file}:${text.slice(0, m.index).split('\n').length}` });
  }
  return out;
}

const rootReadme = readFileSync(join(root, 'README.md'), 'utf8');
const sdkSection = rootReadme.slice(rootReadme.indexOf('\n## SDK\n'), rootReadme.indexOf('\n## Tests and checks\n'));
if (sdkSection.length < 100) throw new Error('README.md has no "## SDK" section before "## Tests and checks"');
const all = [
  ...blocks(sdkSection, 'README.md (SDK)').map((b) => ({ ...b, where: b.where.replace(/:\d+$/, '') })),
  ...blocks(readFileSync(join(root, 'sdk/js/README.md'), 'utf8'), 'sdk/js/README.md'),
].filter((b) => b.lang === 'js' || b.lang === 'ts' || b.lang === 'html');

rmSync(work, { recursive: true, force: true });
mkdirSync(join(work, 'node_modules/@edgemeter'), { recursive: true });
symlinkSync(join(root, 'sdk/pkg'), join(work, 'node_modules/@edgemeter/sdk'), 'dir');
writeFileSync(join(work, 'package.json'), '{ "private": true, "type": "module" }\n');
// The contracts example uploads `msa.pdf` from where it runs: a minimal PDF.
writeFileSync(join(work, 'msa.pdf'), '%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n');

function run(cmd, args, opts = {}) {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd: work, env, timeout: 60_000, maxBuffer: 16 << 20, ...opts }, (e, stdout, stderr) => {
      if (e) reject(new Error(`${[cmd, ...args].join(' ')} failed (${e.code ?? e.signal}):\n${stdout}${stderr}`));
      else resolve({ stdout, stderr });
    });
  });
}

const tsc = join(root, 'tests/consumers/node_modules/typescript/bin/tsc');
const esbuild = join(root, 'node_modules/.bin/esbuild');
let ran = 0;
let tracked = 0;

for (const [i, b] of all.entries()) {
  const code = b.code.replaceAll(DEV_URL, cfg.baseUrl);
  const name = `snippet-${i}`;
  const t0 = Date.now();
  if (b.lang === 'html' || code.includes("fetch('/api/edgemeter-token')")) {
    console.log(`snippets: ${b.where}: not run here (a page with a token from your server; tests/browser runs that path)`);
    continue;
  }
  let out;
  if (b.lang === 'ts' && /export default \{/.test(code)) {
    out = await worker(name, code);
    tracked += 1;
  } else if (b.lang === 'ts') {
    writeFileSync(join(work, `${name}.ts`), code);
    if (existsSync(tsc)) {
      await run(process.execPath, [tsc, '--strict', '--noEmit', '--module', 'nodenext', '--moduleResolution', 'nodenext',
        '--target', 'es2022', '--lib', 'es2022,dom', '--skipLibCheck', 'false', `${name}.ts`]);
    }
    await run(esbuild, [`${name}.ts`, '--format=esm', `--outfile=${name}.mjs`, '--log-level=warning']);
    out = await run(process.execPath, [`${name}.mjs`]);
  } else if (/\brequire\(/.test(code)) {
    writeFileSync(join(work, `${name}.cjs`), code);
    out = await run(process.execPath, [`${name}.cjs`]);
  } else {
    writeFileSync(join(work, `${name}.mjs`), code);
    // A module that exports a handler is called, as a serverless platform would.
    const main = `import * as m from './${name}.mjs';\nif (typeof m.handler === 'function') console.log(JSON.stringify(await m.handler()));\n`;
    writeFileSync(join(work, `${name}.main.mjs`), main);
    out = await run(process.execPath, [`${name}.main.mjs`]);
  }
  // Each example that tracks for EDGEMETER_CUSTOMER_ID tracks one event.
  if (b.lang === 'js' && code.includes('EDGEMETER_CUSTOMER_ID')) tracked += 1;
  if (out.stderr.trim() !== '') throw new Error(`${b.where}: wrote to stderr:\n${out.stderr}`);
  ran++;
  console.log(`snippets: ${b.where}: ran in ${Date.now() - t0} ms${out.stdout.trim() ? `: ${out.stdout.trim().split('\n').join(' | ')}` : ''}`);
}

// Every event the examples tracked for the customer, counted once.
const res = await fetch(`${cfg.baseUrl}/v1/customers/${cfg.customerId}/usage`, { headers: { authorization: 'Bearer sk_test_local' } });
const usage = await res.json();
// (The harness's metric helper gives each code a suffix.)
const total = usage.metrics.filter((m) => m.code.startsWith('snippets_')).reduce((n, m) => n + m.event_count, 0);
if (total !== tracked) throw new Error(`the examples tracked ${tracked} event(s) for the customer; its usage counts ${total}: ${JSON.stringify(usage.metrics)}`);
console.log(`snippets: ${ran} example(s) ran; ${total} event(s) counted for ${cfg.customerId}, as tracked`);

/** A Worker example under `wrangler dev`, asked once; returns what it answered. */
async function worker(name, code) {
  const dir = join(work, name);
  mkdirSync(join(dir, 'src'), { recursive: true });
  writeFileSync(join(dir, 'src/index.ts'), code);
  writeFileSync(join(dir, 'wrangler.toml'), `name = "readme-${name}"\nmain = "src/index.ts"\ncompatibility_date = "2026-04-01"\n`);
  const log = join(dir, 'wrangler.log');
  const { base, stop } = await startWrangler({ cwd: dir, state: join(dir, 'state'), log, vars: { EDGEMETER_INGEST_KEY: 'pk_test_local' }, env });
  try {
    const deadline = Date.now() + 90_000;
    for (;;) {
      try {
        const r = await fetch(`${base}/`, { headers: { 'x-customer-id': cfg.customerId }, signal: AbortSignal.timeout(10_000) });
        const body = await r.text();
        if (r.status !== 200 || body !== 'ok') throw new Error(`the Worker answered ${r.status}: ${body}\n${readFileSync(log, 'utf8')}`);
        break;
      } catch (e) {
        if (e.message.startsWith('the Worker answered')) throw e;
        if (Date.now() > deadline) throw new Error(`the Worker did not start:\n${readFileSync(log, 'utf8')}`);
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    // The events go out after the answer (ctx.waitUntil): wait for them to be counted.
    for (const until = Date.now() + 30_000; Date.now() < until; ) {
      const u = await (await fetch(`${cfg.baseUrl}/v1/customers/${cfg.customerId}/usage`, { headers: { authorization: 'Bearer sk_test_local' } })).json();
      if (u.metrics.some((m) => m.code.startsWith('snippets_api_calls') && m.event_count > 0)) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const logged = readFileSync(log, 'utf8');
    if (/edgemeter: |Uncaught/.test(logged)) throw new Error(`the Worker logged errors:\n${logged}`);
    return { stdout: 'answered ok', stderr: '' };
  } finally {
    stop();
  }
}
