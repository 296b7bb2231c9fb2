// Builds the dashboard (dashboard/) into dashboard/build/, which wrangler serves as Workers
// static assets under /dashboard/: dashboard/src/main.js with uPlot bundled into app.js,
// dashboard/style.css with uPlot's stylesheet into app.css, and index.html as it is.
// Nothing is fetched at run time, and the CSP allows no inline script, so everything the
// page runs is in these files.
//
// Fast (esbuild, well under a second) and incremental: a file is written only when its
// content changed, through a temporary file and a rename, so servers starting together
// (the tests start several) never serve a half-written file, and wrangler's watcher sees
// no change when there is none. `--watch` rebuilds on every change under dashboard/.
import { build } from 'esbuild';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { watch } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'dashboard');
const out = join(src, 'build');

async function writeIfChanged(path, bytes) {
  const old = await readFile(path).catch(() => null);
  if (old && Buffer.compare(old, Buffer.from(bytes)) === 0) return false;
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, bytes);
  await rename(tmp, path);
  return true;
}

async function once() {
  await mkdir(out, { recursive: true });
  const common = { bundle: true, minify: true, write: false, logLevel: 'warning', legalComments: 'eof' };
  const [js, css] = await Promise.all([
    build({ ...common, entryPoints: [join(src, 'src/main.js')], format: 'esm', target: 'es2022', platform: 'browser', outfile: join(out, 'app.js') }),
    build({ ...common, entryPoints: [join(src, 'style.css')], outfile: join(out, 'app.css') }),
  ]);
  const files = [...js.outputFiles, ...css.outputFiles].map((f) => [f.path, f.contents]);
  files.push([join(out, 'index.html'), await readFile(join(src, 'index.html'))]);
  let changed = 0;
  for (const [path, bytes] of files) if (await writeIfChanged(path, bytes)) changed++;
  return changed;
}

const changed = await once();
if (process.argv.includes('--watch')) {
  console.log(`dashboard: built into dashboard/build (${changed} files changed); watching dashboard/`);
  let timer;
  watch(src, { recursive: true }, (_, name) => {
    if (!name || name.startsWith('build')) return;
    clearTimeout(timer);
    timer = setTimeout(() => once().then((n) => n && console.log(`dashboard: rebuilt (${n} files)`), (e) => console.error(e.message)), 50);
  });
} else if (changed) {
  console.log(`dashboard: built into dashboard/build (${changed} files changed)`);
}
