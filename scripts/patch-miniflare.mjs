// Works around a bug of the miniflare that wrangler 4.86.0 bundles (workers-sdk issue
// #9882, fixed upstream by PR #14177 in a wrangler that needs Node 22): with `[assets]`
// in wrangler.toml, local requests go through miniflare's RPC proxy worker, which has no
// `scheduled` method, so `GET /cdn-cgi/handler/scheduled?…` answers 500 "exception" and
// the invoicing run never starts. This adds the method the upstream fix adds: it hands
// the scheduled event (cron and scheduled time) to the user worker.
//
// Run by scripts/setup.sh after `npm ci`; idempotent. Remove it with the move to a
// wrangler that has the fix.
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const file = join(root, 'node_modules/miniflare/dist/src/workers/assets/rpc-proxy.worker.js');
const MARK = '/* edgemeter: scheduled through assets (workers-sdk #9882) */';
const ANCHOR = '  tail(events) {';
const METHOD = `  ${MARK}
  async scheduled(controller) {
    const result = await this.env.USER_WORKER.scheduled({ cron: controller.cron, scheduledTime: new Date(controller.scheduledTime) });
    if (result?.noRetry) controller.noRetry();
    if (result && result.outcome !== undefined && result.outcome !== "ok") throw new Error(\`scheduled handler: \${result.outcome}\`);
  }
`;

const text = await readFile(file, 'utf8').catch(() => null);
if (text === null) {
  console.log('patch-miniflare: miniflare is not installed; nothing to patch');
} else if (text.includes(MARK) || /\basync scheduled\(/.test(text)) {
  // Patched already, or a miniflare that has the fix.
} else if (!text.includes(ANCHOR)) {
  console.warn('patch-miniflare: this miniflare differs from the one the patch was written for; not patched');
} else {
  await writeFile(file, text.replace(ANCHOR, METHOD + ANCHOR));
  console.log('patch-miniflare: the assets proxy now passes scheduled events on (workers-sdk #9882)');
}
