// Builds the npm package `@edgemeter/sdk` into sdk/pkg/ (`npm run sdk:build`).
//
// The package is plain ESM that runs unbundled in Node 18+ and in browsers: the client
// (sdk/js/index.js) over wasm-bindgen's `--target web` glue, and the wasm module as its
// own file, which the client reads with `fs` when it is loaded from a `file:` URL and
// fetches otherwise (see sdk/js/index.js). No wasm-pack: it downloads binaries.
//
// Steps: the SDK crate for wasm32 (profile `sdk-release`: opt-level 3), wasm-bindgen
// (the CLI pinned by `make setup`), wasm-opt -O3 (npm `binaryen`; tuned for speed, as
// -Oz saves under 1% gzipped here), then the JS, the declarations and a package.json
// whose version is the workspace's. Prints each file's size, raw and gzipped.

import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = join(root, 'sdk/pkg');
// Built beside sdk/pkg and swapped in at the end, so a test reading the package while it
// is rebuilt sees the old one or the new one, never half of each.
const out = join(root, `sdk/pkg.tmp-${process.pid}`);
const glue = join(root, `target/sdk-bindgen-${process.pid}`);
const cargoHome = process.env.CARGO_HOME || join(homedir(), '.cargo');

function run(cmd, args) {
  console.log(`sdk:build: ${[cmd, ...args].join(' ')}`);
  execFileSync(cmd, args, { cwd: root, stdio: 'inherit' });
}

function need(path, hint) {
  if (!existsSync(path)) {
    console.error(`sdk:build: ${path} is missing (${hint})`);
    process.exit(1);
  }
  return path;
}

run('cargo', ['build', '-p', 'edgemeter-sdk', '--target', 'wasm32-unknown-unknown', '--profile', 'sdk-release']);

const wasmBindgen = need(join(cargoHome, 'bin/wasm-bindgen'), 'run `make setup`');
rmSync(glue, { recursive: true, force: true });
run(wasmBindgen, [
  '--target', 'web', '--no-typescript', '--out-dir', glue, '--out-name', 'edgemeter_sdk',
  join(root, 'target/wasm32-unknown-unknown/sdk-release/edgemeter_sdk.wasm'),
]);

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
// The features rustc's wasm32 target enables by default; wasm-opt must be told, and must
// not add any others.
const wasmOpt = need(join(root, 'node_modules/.bin/wasm-opt'), 'run `make setup` (npm `binaryen`)');
run(wasmOpt, [
  '-O3', '--strip-debug', '--strip-producers',
  '--enable-bulk-memory', '--enable-nontrapping-float-to-int', '--enable-sign-ext',
  '--enable-mutable-globals', '--enable-reference-types', '--enable-multivalue',
  join(glue, 'edgemeter_sdk_bg.wasm'), '-o', join(out, 'edgemeter_sdk_bg.wasm'),
]);
copyFileSync(join(glue, 'edgemeter_sdk.js'), join(out, 'edgemeter_sdk.js'));
rmSync(glue, { recursive: true, force: true });
for (const f of ['index.js', 'browser.js', 'errors.js', 'retry.js', 'platform.js', 'api.js', 'index.d.ts', 'api.d.ts', 'README.md']) {
  copyFileSync(join(root, 'sdk/js', f), join(out, f));
}

const version = /\[workspace\.package\][^[]*?\nversion = "([^"]+)"/.exec(readFileSync(join(root, 'Cargo.toml'), 'utf8'))?.[1];
if (!version) {
  console.error('sdk:build: cannot read the workspace version from Cargo.toml');
  process.exit(1);
}
const manifest = {
  name: '@edgemeter/sdk',
  version,
  description: 'edgemeter client: validates usage events with the server\'s own rules (wasm), then batches and delivers them.',
  license: 'Apache-2.0',
  type: 'module',
  main: './index.js',
  types: './index.d.ts',
  exports: {
    '.': { types: './index.d.ts', default: './index.js' },
    './package.json': './package.json',
  },
  files: ['index.js', 'browser.js', 'errors.js', 'retry.js', 'platform.js', 'api.js', 'index.d.ts', 'api.d.ts', 'edgemeter_sdk.js', 'edgemeter_sdk_bg.wasm', 'README.md'],
  engines: { node: '>=18' },
};
writeFileSync(join(out, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
rmSync(pkg, { recursive: true, force: true });
renameSync(out, pkg);

let raw = 0;
let gz = 0;
for (const f of readdirSync(pkg).sort()) {
  const bytes = readFileSync(join(pkg, f));
  const z = gzipSync(bytes, { level: 9 }).length;
  if (f !== 'package.json' && f !== 'README.md' && !f.endsWith('.d.ts')) {
    raw += bytes.length;
    gz += z;
  }
  console.log(`sdk:build: ${f.padEnd(24)} ${String(bytes.length).padStart(8)} B  ${String(z).padStart(7)} B gzipped`);
}
console.log(`sdk:build: code shipped to a runtime (JS + wasm): ${raw} B, ${gz} B gzipped`);
