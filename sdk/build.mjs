// Builds the npm package `@edgemeter/sdk` into sdk/pkg/ (`npm run sdk:build`).
//
// One client (sdk/js/), bundled by esbuild into one file per runtime and module format,
// each loadable without top-level await and without fetching anything beside it:
//
// | file | export condition | wasm | Web Crypto |
// | --- | --- | --- | --- |
// | index.js / index.cjs | browser, import / require, default | carried as base64, instantiated synchronously by the first client | global |
// | node.js / node.cjs | node | the same | `node:crypto` on Node 18 |
// | workerd.js | workerd (Cloudflare Workers) | `import … from './edgemeter_sdk_bg.wasm'`, compiled by wrangler's bundler | global |
//
// (sdk/js/platform.*.js are what differs.) The wasm file ships too, reachable by name
// (`@edgemeter/sdk/edgemeter_sdk_bg.wasm`). No wasm-pack: it downloads binaries.
//
// Steps: the SDK crate for wasm32 (profile `sdk-release`: opt-level 3), wasm-bindgen
// (the CLI pinned by `make setup`), wasm-opt -O3 (npm `binaryen`; tuned for speed, as
// -Oz saves under 1% gzipped here), the bundles, the declarations (ESM `.d.ts` and
// CommonJS `.d.cts`), LICENSE and a package.json whose version is the workspace's.
// Prints each file's size, raw and gzipped.

import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = join(root, 'sdk/pkg');
// Built beside sdk/pkg and swapped in at the end, so a test reading the package while it
// is rebuilt sees the old one or the new one, never half of each.
const out = join(root, `sdk/pkg.tmp-${process.pid}`);
// Where cargo writes: `CARGO_TARGET_DIR` when set, else the workspace's `target/`.
const cargoTarget = process.env.CARGO_TARGET_DIR ? resolve(process.env.CARGO_TARGET_DIR) : join(root, 'target');
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
  join(cargoTarget, 'wasm32-unknown-unknown/sdk-release/edgemeter_sdk.wasm'),
]);

// The checks' wasm (`@edgemeter/sdk/verify`: verifyInvoice, price), built from the same
// crate with `--features checks`, into the same glue folder under its own name.
// Built for size (profile `checks-release`, wasm-opt -Oz): not a hot path.
run('cargo', ['build', '-p', 'edgemeter-sdk', '--target', 'wasm32-unknown-unknown', '--profile', 'checks-release', '--features', 'checks']);
run(wasmBindgen, [
  '--target', 'web', '--no-typescript', '--out-dir', glue, '--out-name', 'edgemeter_checks',
  join(cargoTarget, 'wasm32-unknown-unknown/checks-release/edgemeter_sdk.wasm'),
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
run(wasmOpt, [
  '-Oz', '--strip-debug', '--strip-producers',
  '--enable-bulk-memory', '--enable-nontrapping-float-to-int', '--enable-sign-ext',
  '--enable-mutable-globals', '--enable-reference-types', '--enable-multivalue',
  join(glue, 'edgemeter_checks_bg.wasm'), '-o', join(out, 'edgemeter_checks_bg.wasm'),
]);
// The sources and wasm-bindgen's glue side by side, for esbuild.
const src = join(glue, 'src');
mkdirSync(src, { recursive: true });
writeFileSync(join(src, 'edgemeter_sdk.js'), lazyTextDecoder(readFileSync(join(glue, 'edgemeter_sdk.js'), 'utf8')));
copyFileSync(join(out, 'edgemeter_sdk_bg.wasm'), join(src, 'edgemeter_sdk_bg.wasm'));
writeFileSync(join(src, 'edgemeter_checks.js'), lazyTextDecoder(readFileSync(join(glue, 'edgemeter_checks.js'), 'utf8')));
copyFileSync(join(out, 'edgemeter_checks_bg.wasm'), join(src, 'edgemeter_checks_bg.wasm'));
for (const f of readdirSync(join(root, 'sdk/js'))) {
  if (f.endsWith('.js')) copyFileSync(join(root, 'sdk/js', f), join(src, f));
}

const version = /\[workspace\.package\][^[]*?\nversion = "([^"]+)"/.exec(readFileSync(join(root, 'Cargo.toml'), 'utf8'))?.[1];
if (!version) {
  console.error('sdk:build: cannot read the workspace version from Cargo.toml');
  process.exit(1);
}

const esbuild = createRequire(join(root, 'package.json'))('esbuild');
const BUILDS = [
  { file: 'index.js', platform: 'web', format: 'esm' },
  { file: 'index.cjs', platform: 'web', format: 'cjs' },
  { file: 'node.js', platform: 'node', format: 'esm' },
  { file: 'node.cjs', platform: 'node', format: 'cjs' },
  { file: 'workerd.js', platform: 'workerd', format: 'esm' },
];
// `@edgemeter/sdk/verify`, with the checks' wasm: the same for browsers and Node.
const VERIFY_BUILDS = [
  { file: 'verify.js', platform: 'web', format: 'esm', entry: 'verify.js', wasm: 'edgemeter_checks_bg.wasm' },
  { file: 'verify.cjs', platform: 'web', format: 'cjs', entry: 'verify.js', wasm: 'edgemeter_checks_bg.wasm' },
  { file: 'verify.workerd.js', platform: 'workerd', format: 'esm', entry: 'verify.js', wasm: 'edgemeter_checks_bg.wasm' },
];
for (const b of [...BUILDS, ...VERIFY_BUILDS]) {
  console.log(`sdk:build: esbuild ${b.file} (${b.platform}, ${b.format})`);
  const result = await esbuild.build({
    entryPoints: [join(src, b.entry ?? 'index.js')],
    outfile: join(out, b.file),
    bundle: true,
    format: b.format,
    platform: b.platform === 'node' ? 'node' : 'neutral',
    // Class private fields are ES2022; a bundler targeting older lowers them itself.
    target: 'es2022',
    // The Worker build keeps its wasm import for wrangler; the others carry the bytes.
    loader: b.platform === 'workerd' ? {} : { '.wasm': 'base64' },
    external: b.platform === 'workerd' ? ['./edgemeter_sdk_bg.wasm', './edgemeter_checks_bg.wasm'] : [],
    plugins: [
      platformPlugin(join(src, `platform.${b.platform}.js`)),
      checksPlugin(join(src, b.platform === 'workerd' ? 'checks.workerd.js' : 'checks.bytes.js')),
    ],
    // Only wasm-bindgen's async loader, which the client never calls, reads it; defined
    // away so that no build keeps a `new URL('….wasm', import.meta.url)` for bundlers to chase.
    define: { 'import.meta.url': 'undefined' },
    banner: { js: `// @edgemeter/sdk ${version}, ${b.platform} build (${b.format}); Apache-2.0. Generated from sdk/js/ by sdk/build.mjs.` },
    legalComments: 'none',
    logLevel: 'warning',
  });
  // A warning (import.meta in CommonJS, say) is a broken build here.
  if (result.warnings.length > 0) {
    console.error(`sdk:build: esbuild warned for ${b.file}; refusing to ship it`);
    rmSync(out, { recursive: true, force: true });
    rmSync(glue, { recursive: true, force: true });
    process.exit(1);
  }
}

/**
 * wasm-bindgen's glue makes its TextDecoder at module load; Jest's jsdom environment has
 * none, so loading the package there threw. Made on first use instead (only an error's
 * text or a saved queue needs it), and where there is none, utf8.js decodes. Fails the
 * build if the glue no longer reads as expected, rather than shipping it unchanged.
 */
function lazyTextDecoder(text) {
  const eager = "let cachedTextDecoder = new TextDecoder('utf-8', { ignoreBOM: true });\ncachedTextDecoder.decode();\n";
  const check = '    if (numBytesDecoded >= MAX_SAFARI_DECODE_BYTES) {';
  if (!text.includes(eager) || !text.includes(check)) {
    console.error('sdk:build: the wasm-bindgen glue changed: its TextDecoder is no longer made where expected');
    process.exit(1);
  }
  const made = "cachedTextDecoder = new TextDecoder('utf-8', { ignoreBOM: true });";
  return `import { newTextDecoder } from './utf8.js';\n${text
    .replace(eager, 'let cachedTextDecoder = null;\n')
    .replace(check, '    if (cachedTextDecoder === null || numBytesDecoded >= MAX_SAFARI_DECODE_BYTES) {')
    .replace(made, 'cachedTextDecoder = newTextDecoder();')}`;
}

/** Resolves the checks' `./checks.js` to how one runtime gets their wasm. */
function checksPlugin(file) {
  return {
    name: 'edgemeter-checks',
    setup(build) {
      build.onResolve({ filter: /^\.\/checks\.js$/ }, () => ({ path: file }));
    },
  };
}

/** Resolves the client's `./platform.js` to one runtime's file. */
function platformPlugin(file) {
  return {
    name: 'edgemeter-platform',
    setup(build) {
      build.onResolve({ filter: /^\.\/platform\.js$/ }, () => ({ path: file }));
    },
  };
}

// Declarations: ESM (`.d.ts`, for `import`) and CommonJS (`.d.cts`, for `require`), the
// same text but for the extension they import each other by.
for (const f of ['index', 'api', 'verify']) {
  const text = readFileSync(join(root, 'sdk/js', `${f}.d.ts`), 'utf8');
  writeFileSync(join(out, `${f}.d.ts`), text);
  writeFileSync(
    join(out, `${f}.d.cts`),
    text.replaceAll("from './api.js'", "from './api.cjs'").replaceAll("from './index.js'", "from './index.cjs'"),
  );
}
copyFileSync(join(root, 'sdk/js/README.md'), join(out, 'README.md'));
copyFileSync(join(root, 'LICENSE'), join(out, 'LICENSE'));
rmSync(glue, { recursive: true, force: true });

const types = { import: './index.d.ts', require: './index.d.cts' };
const verifyTypes = { import: './verify.d.ts', require: './verify.d.cts' };
const manifest = {
  name: '@edgemeter/sdk',
  version,
  description: 'edgemeter client: validates usage events with the server\'s own rules (wasm), then batches and delivers them.',
  keywords: ['usage-based-billing', 'metering', 'billing', 'usage', 'events', 'cloudflare-workers', 'wasm', 'edgemeter'],
  homepage: 'https://github.com/edgemeter/edgemeter/tree/main/sdk#readme',
  bugs: { url: 'https://github.com/edgemeter/edgemeter/issues' },
  repository: { type: 'git', url: 'git+https://github.com/edgemeter/edgemeter.git', directory: 'sdk' },
  license: 'Apache-2.0',
  type: 'module',
  main: './index.cjs',
  module: './index.js',
  types: './index.d.cts',
  exports: {
    '.': {
      // workerd first: wrangler also sets `browser`, whose build would compile wasm
      // from bytes, which Workers refuse.
      workerd: { types, default: './workerd.js' },
      browser: { import: { types: types.import, default: './index.js' }, require: { types: types.require, default: './index.cjs' } },
      node: { import: { types: types.import, default: './node.js' }, require: { types: types.require, default: './node.cjs' } },
      import: { types: types.import, default: './index.js' },
      require: { types: types.require, default: './index.cjs' },
      default: { types: types.import, default: './index.js' },
    },
    // verifyInvoice and price, with the checks' own wasm (only an application that checks
    // invoices or quotes prices loads it).
    './verify': {
      workerd: { types: verifyTypes, default: './verify.workerd.js' },
      import: { types: verifyTypes.import, default: './verify.js' },
      require: { types: verifyTypes.require, default: './verify.cjs' },
      default: { types: verifyTypes.import, default: './verify.js' },
    },
    // The wasm by name, for a build step that copies or imports it (not a JS module: what
    // importing it yields is the bundler's choice).
    './edgemeter_sdk_bg.wasm': './edgemeter_sdk_bg.wasm',
    './edgemeter_checks_bg.wasm': './edgemeter_checks_bg.wasm',
    './package.json': './package.json',
  },
  sideEffects: false,
  files: [
    ...BUILDS.map((b) => b.file), 'edgemeter_sdk_bg.wasm', 'index.d.ts', 'index.d.cts', 'api.d.ts', 'api.d.cts',
    ...VERIFY_BUILDS.map((b) => b.file), 'edgemeter_checks_bg.wasm', 'verify.d.ts', 'verify.d.cts',
    'README.md', 'LICENSE',
  ],
  engines: { node: '>=18' },
};
writeFileSync(join(out, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
rmSync(pkg, { recursive: true, force: true });
renameSync(out, pkg);

// What one runtime loads: one of the builds (the wasm inside it, or for a Worker beside it).
const sizes = new Map();
for (const f of readdirSync(pkg).sort()) {
  const bytes = readFileSync(join(pkg, f));
  const z = gzipSync(bytes, { level: 9 }).length;
  sizes.set(f, [bytes.length, z]);
  console.log(`sdk:build: ${f.padEnd(24)} ${String(bytes.length).padStart(8)} B  ${String(z).padStart(7)} B gzipped`);
}
for (const b of [...BUILDS, ...VERIFY_BUILDS]) {
  const parts = b.platform === 'workerd' ? [b.file, b.wasm ?? 'edgemeter_sdk_bg.wasm'] : [b.file];
  const [raw, gz] = parts.map((f) => sizes.get(f)).reduce((a, x) => [a[0] + x[0], a[1] + x[1]]);
  console.log(`sdk:build: a runtime loading ${parts.join(' + ')}: ${raw} B, ${gz} B gzipped`);
}
