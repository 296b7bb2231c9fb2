// A user's Worker under `wrangler dev` (the root's wrangler 4.86.0), for the consumer
// matrix (run.mjs) and the README examples (tests/sdk/snippets.mjs): started in its own
// process group on free ports, its output in `log`, stopped by signalling the group
// (SIGTERM to npx alone leaves workerd on the port; TOOLCHAIN.md).

import { spawn } from 'node:child_process';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');

/** A port free on 127.0.0.1 now. */
export function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/**
 * `wrangler dev` in `cwd` with `--var` for each of `vars`, state in `state`, output in
 * `log`: `{ base, stop }`. Stopped when this process exits, if not before.
 */
export async function startWrangler({ cwd, state, log, vars = {}, env = process.env }) {
  const port = await freePort();
  const inspector = await freePort();
  const flags = Object.entries(vars).map(([k, v]) => `--var ${k}:${v}`).join(' ');
  const child = spawn(
    'sh',
    [
      '-c',
      `exec "${join(root, 'node_modules/.bin/wrangler')}" dev --ip 127.0.0.1 --port ${port} --inspector-port ${inspector} ` +
        `--persist-to "${state}" --show-interactive-dev-session=false ${flags} > "${log}" 2>&1`,
    ],
    { cwd, detached: true, stdio: 'ignore', env: { ...env, WRANGLER_SEND_METRICS: 'false' } },
  );
  const stop = () => {
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      // already gone
    }
  };
  process.on('exit', stop);
  return { base: `http://127.0.0.1:${port}`, stop };
}
