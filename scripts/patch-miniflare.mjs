// wrangler 4.86's local dev (miniflare) cannot deliver a scheduled event to a worker
// that has static assets: its asset RPC proxy forwards `scheduled(controller)` to the
// worker as is, and the ScheduledController cannot be cloned ("DataCloneError: Could not
// serialize object of type ScheduledController"), so `/cdn-cgi/handler/scheduled`
// answers 500. This gives the proxy a `scheduled` that passes the controller's time and
// cron instead, as a plain object. Local development only (Cloudflare itself delivers
// cron events to the worker directly); idempotent, and a no-op if the file changes.
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const file = join(root, 'node_modules/miniflare/dist/src/workers/assets/rpc-proxy.worker.js');
const anchor = '  tail(events) {\n';
const method = `  async scheduled(controller) {
    // edgemeter: scripts/patch-miniflare.mjs
    // An RPC call to the worker's entrypoint: it throws if the handler does.
    const result = await this.env.USER_WORKER.scheduled({
      scheduledTime: new Date(controller.scheduledTime),
      cron: controller.cron
    });
    if (result && result.outcome && result.outcome !== "ok") throw new Error(\`scheduled handler: \${result.outcome}\`);
  }
`;
if (!existsSync(file)) {
  console.log('patch-miniflare: no asset RPC proxy in this miniflare; nothing to do');
  process.exit(0);
}
const text = readFileSync(file, 'utf8');
if (text.includes('scripts/patch-miniflare.mjs')) process.exit(0);
if (!text.includes(anchor)) {
  console.log('patch-miniflare: the asset RPC proxy changed; not patched');
  process.exit(0);
}
writeFileSync(file, text.replace(anchor, method + anchor));
console.log('patch-miniflare: the asset RPC proxy now forwards scheduled events');
