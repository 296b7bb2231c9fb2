// The package as users get it: `npm pack` of sdk/pkg installs into an empty project
// (offline: it has no dependencies) and `import '@edgemeter/sdk'` works there.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkgDir = fileURLToPath(new URL('../../sdk/pkg/', import.meta.url));
const npm = (args, cwd) => execFileSync('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], { cwd, encoding: 'utf8' });

test('npm pack yields a tarball that installs offline and imports', () => {
  const dir = mkdtempSync(join(tmpdir(), 'edgemeter-sdk-pack-'));
  try {
    const [packed] = JSON.parse(npm(['pack', pkgDir, '--pack-destination', dir, '--json'], dir));
    assert.equal(packed.name, '@edgemeter/sdk');
    assert.deepEqual(packed.files.map((f) => f.path).sort(), [
      'README.md', 'api.d.ts', 'api.js', 'browser.js', 'edgemeter_sdk.js', 'edgemeter_sdk_bg.wasm', 'errors.js', 'index.d.ts', 'index.js', 'package.json',
    ]);

    const app = join(dir, 'app');
    execFileSync('mkdir', [app]);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true, type: 'module' }));
    npm(['install', '--offline', join(dir, packed.filename)], app);
    writeFileSync(
      join(app, 'main.js'),
      `import { Edgemeter, EdgemeterError } from '@edgemeter/sdk';
const sent = [];
const fetch = async (url, init) => {
  sent.push(JSON.parse(init.body).events.length);
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
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
