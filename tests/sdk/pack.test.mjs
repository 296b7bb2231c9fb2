// The package as users get it: `npm pack` of sdk/pkg installs into an empty project
// (offline: it has no dependencies) and `import '@edgemeter/sdk'` works there, and
// delivers 10,000 events for several customers to a real server exactly.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkgDir = fileURLToPath(new URL('../../sdk/pkg/', import.meta.url));
import { BASE_URL, INGEST_KEY, NEEDS_SERVER, customer, sumMetric, usage } from './helpers.mjs';

const npm = (args, cwd) => execFileSync('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], { cwd, encoding: 'utf8' });

const dir = mkdtempSync(join(tmpdir(), 'edgemeter-sdk-pack-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let installed = null;

/** Packs sdk/pkg and installs the tarball into an empty app folder (once per file). */
function installedApp() {
  if (installed) return installed;
  const [packed] = JSON.parse(npm(['pack', pkgDir, '--pack-destination', dir, '--json'], dir));
  const app = join(dir, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true, type: 'module' }));
  npm(['install', '--offline', join(dir, packed.filename)], app);
  installed = { packed, app };
  return installed;
}

test('npm pack yields a tarball that installs offline and imports', () => {
  const { packed, app } = installedApp();
  assert.equal(packed.name, '@edgemeter/sdk');
  assert.deepEqual(packed.files.map((f) => f.path).sort(), [
    'LICENSE', 'README.md', 'api.d.cts', 'api.d.ts', 'edgemeter_checks_bg.wasm', 'edgemeter_sdk_bg.wasm', 'index.cjs', 'index.d.cts', 'index.d.ts', 'index.js', 'node.cjs', 'node.js', 'package.json',
    'verify.cjs', 'verify.d.cts', 'verify.d.ts', 'verify.js', 'verify.workerd.js', 'workerd.js',
  ]);
  writeFileSync(
    join(app, 'main.js'),
    `import { Edgemeter, EdgemeterError } from '@edgemeter/sdk';
const sent = [];
const fetch = async (url, init) => {
  sent.push(JSON.parse(new TextDecoder().decode(init.body)).events.length);
  return new Response(JSON.stringify({ accepted: 1, duplicates: 0, rejected: 0, results: [] }), { status: 200 });
};
const m = new Edgemeter({ apiKey: 'pk_x', baseUrl: 'https://billing.example.com', fetch });
const key = m.track({ customerId: 'cus_1', eventName: 'invoices', value: '1.5' });
let code;
try { m.track({ customerId: 'cus_1' }); } catch (e) { code = e instanceof EdgemeterError && e.code; }
const r = await m.shutdown();
console.log(JSON.stringify({ key: key.length, code, sent, accepted: r.accepted }));
`,
  );
  const out = execFileSync('node', ['main.js'], { cwd: app, encoding: 'utf8' });
  assert.deepEqual(JSON.parse(out), { key: 36, code: 'missing_event_name', sent: [1], accepted: 1 });
});

test('the installed package tracks 10,000 events for 4 customers: usage is exact', NEEDS_SERVER, async () => {
  const { app } = installedApp();
  const metric = await sumMetric();
  const customers = [await customer(), await customer(), await customer(), await customer()];
  writeFileSync(
    join(app, 'ten-thousand.js'),
    `import { Edgemeter } from '@edgemeter/sdk';
const [baseUrl, apiKey, eventName, ...customers] = process.argv.slice(2);
const errors = [];
const m = new Edgemeter({ apiKey, baseUrl, onError: (e) => errors.push(e.code) });
for (let i = 0; i < 10000; i++) {
  m.track({ customerId: customers[i % customers.length], eventName, value: (i % 7) + 0.25, properties: { n: i } });
}
const r = await m.shutdown();
console.log(JSON.stringify({ accepted: r.accepted, duplicates: r.duplicates, rejected: r.rejected.length, failed: r.failed.length, errors }));
`,
  );
  const out = execFileSync('node', ['ten-thousand.js', BASE_URL, INGEST_KEY, metric.eventName, ...customers], { cwd: app, encoding: 'utf8' });
  assert.deepEqual(JSON.parse(out), { accepted: 10000, duplicates: 0, rejected: 0, failed: 0, errors: [] });
  for (const [c, id] of customers.entries()) {
    let hundredths = 0;
    let count = 0;
    for (let i = c; i < 10000; i += customers.length) {
      hundredths += (i % 7) * 100 + 25;
      count++;
    }
    const quantity = `${Math.floor(hundredths / 100)}.${String(hundredths % 100).padStart(2, '0')}`.replace(/\.?0+$/, '');
    assert.deepEqual(await usage(id, metric.code), { quantity, eventCount: count });
  }
});
