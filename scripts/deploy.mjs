// Deploys edgemeter to the Cloudflare account wrangler is logged in to (`make deploy`), or
// checks the production bundle without an account (`make deploy-check`, part of `make test`).
// README "Deploy to Cloudflare" walks through it.
//
//   node scripts/deploy.mjs            log-in check, KV namespace and R2 bucket (created
//                                      or reused), secrets (asked for once), deploy
//   node scripts/deploy.mjs --dry-run  the same configuration with a stand-in KV id,
//                                      `wrangler deploy --dry-run`, the size budget
//
// The production configuration is generated, never hand-edited: `wrangler.toml` with the
// account's KV namespace id, paths made absolute, and `[secrets] required` (so wrangler
// itself refuses to deploy a Worker whose keys are missing), written to
// target/deploy/<worker name>/wrangler.toml (dry-run/ for the check). Why generated rather than `[env.production]`: the
// KV id belongs to the account, not to the repository, and an environment repeats every
// binding (wrangler does not inherit them) while this copy cannot drift from the one
// `wrangler dev` runs. Why not wrangler's automatic provisioning (on by default since
// 4.45): it writes the ids it creates back into wrangler.toml, and re-runs have failed to
// find a KV namespace they created (workers-sdk #8721, #14262); listing and creating by
// name here is idempotent and shows what it does.
//
// Secrets travel to wrangler on its standard input only: never in arguments (visible in
// `ps`), never printed, never written to a file.

import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// EDGEMETER_WRANGLER: a stand-in for tests (tests/deploy/fake-wrangler.mjs).
const wranglerBin = process.env.EDGEMETER_WRANGLER || join(root, 'node_modules/.bin/wrangler');

/** The Worker's name; its KV namespace and R2 bucket are named after it. */
const workerName = process.env.EDGEMETER_WORKER_NAME || 'edgemeter';
const kvTitle = `${workerName}-kv`;
const bucketName = `${workerName}-documents`;

/**
 * The secrets the Worker reads (`env.var`/`env.secret` in worker/src; the binding test
 * in tests/tests/operations.rs holds this list to the code). `required` ones go into
 * `[secrets] required`.
 */
const SECRETS = [
  {
    name: 'EDGEMETER_SECRET_KEYS',
    required: true,
    prefix: 'sk_',
    about: 'secret keys, comma-separated (sk_…; they may do everything)',
  },
  {
    name: 'EDGEMETER_INGEST_KEYS',
    required: true,
    prefix: 'pk_',
    about: 'ingest keys, comma-separated (pk_…; they may only ingest)',
  },
  {
    name: 'EDGEMETER_TOKEN_SECRET',
    required: true,
    generate: true,
    about: 'the HMAC secret that signs customer tokens (Enter: a random one is made)',
  },
  { name: 'EDGEMETER_WEBHOOK_URL', about: 'where invoice webhooks are POSTed (Enter: no webhooks)' },
  { name: 'EDGEMETER_WEBHOOK_SECRET', about: 'the HMAC secret webhook deliveries are signed with' },
];

/**
 * Largest production bundle accepted, as `wrangler deploy --dry-run` counts it (the
 * Worker's JavaScript and wasm; the dashboard's files are static assets, counted apart).
 * Cloudflare refuses a Worker over 3 MiB gzipped on the Free plan (10 MiB on Paid), and
 * a large wasm module also costs start-up time (the global scope must run within 1 s).
 * The budget keeps two thirds of the Free limit free and stops silent growth: the bundle
 * was 1,315 KiB / 468 KiB gzipped on 2026-11-30, 1,714 / 591 on 2026-12-07, and 1,733 / 598
 * with the log lines (`make deploy-check` prints it).
 */
const BUDGET_KIB = { raw: 2560, gzip: 1024 };

/** The stand-in KV id for the dry run (a deploy uses the account's). */
const DRY_RUN_KV_ID = '00000000000000000000000000000000';

class Stop extends Error {}

/** Terminal colours, which wrangler may add to what it prints. */
const ANSI = /\u001b\[[0-9;]*m/g;

/**
 * The production configuration: wrangler.toml with `name`, the KV namespace id and the R2
 * bucket set, paths made absolute (the copy lives under target/), the dev-only
 * `watch_dir` dropped, and `[secrets] required` added. Every rewrite must find its line
 * exactly once, so a change to wrangler.toml that this does not understand stops here
 * instead of deploying something else.
 */
function productionConfig(source, { name, kvId, bucket }) {
  const rules = {
    'name': () => `name = ${JSON.stringify(name)}`,
    'main': (v) => `main = ${JSON.stringify(join(root, v))}`,
    'build.command': (v) => `command = ${JSON.stringify(`cd '${root}' && ${v}`)}`,
    'build.watch_dir': () => null,
    'assets.directory': (v) => `directory = ${JSON.stringify(join(root, v))}`,
    'r2_buckets.bucket_name': () => `bucket_name = ${JSON.stringify(bucket)}`,
    'kv_namespaces.id': () => `id = ${JSON.stringify(kvId)}`,
  };
  const seen = Object.fromEntries(Object.keys(rules).map((k) => [k, 0]));
  let table = '';
  const out = [];
  for (const line of source.split('\n')) {
    const header = line.match(/^\s*\[\[?\s*([A-Za-z0-9_.-]+)\s*\]\]?\s*(#.*)?$/);
    if (header) table = header[1];
    const entry = line.match(/^\s*([A-Za-z0-9_-]+)\s*=\s*(.*)$/);
    const rule = entry && rules[table ? `${table}.${entry[1]}` : entry[1]];
    if (!rule) {
      out.push(line);
      continue;
    }
    seen[table ? `${table}.${entry[1]}` : entry[1]] += 1;
    const rewritten = rule(entry[2].match(/^"([^"]*)"/)?.[1] ?? '');
    if (rewritten !== null) out.push(rewritten);
  }
  const wrong = Object.entries(seen).filter(([, n]) => n !== 1);
  if (wrong.length) {
    throw new Stop(
      `wrangler.toml changed in a way scripts/deploy.mjs does not know: ${wrong
        .map(([k, n]) => `${k} found ${n} times`)
        .join(', ')}; update productionConfig()`,
    );
  }
  const required = SECRETS.filter((s) => s.required).map((s) => JSON.stringify(s.name));
  return [
    '# Generated by scripts/deploy.mjs from wrangler.toml: do not edit; `make deploy` rewrites it.',
    ...out,
    '',
    '# Production only: wrangler refuses to deploy while one of these is not set on the Worker.',
    '[secrets]',
    `required = [${required.join(', ')}]`,
    '',
  ].join('\n');
}

/** Writes the production configuration under target/deploy/`mode`/ and answers its path. */
function writeConfig(mode, kvId) {
  const source = readFileSync(join(root, 'wrangler.toml'), 'utf8');
  const dir = join(root, 'target/deploy', mode);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'wrangler.toml');
  writeFileSync(path, productionConfig(source, { name: workerName, kvId, bucket: bucketName }));
  return path;
}

/**
 * Runs wrangler with `args`; `input` goes to its standard input. With `capture`, its
 * output is answered instead of shown. Fails (Stop) when wrangler does, unless `allowFail`.
 */
function wrangler(args, { capture = false, input, allowFail = false } = {}) {
  const r = spawnSync(wranglerBin, args, {
    cwd: root,
    input,
    stdio: [input === undefined ? 'inherit' : 'pipe', capture ? 'pipe' : 'inherit', capture ? 'pipe' : 'inherit'],
    encoding: 'utf8',
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false' },
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.error) throw new Stop(`could not run wrangler (${r.error.message}): run \`make setup\` first`);
  if (r.status !== 0 && !allowFail) {
    const detail = capture ? `\n${(r.stderr || r.stdout || '').trim()}` : '';
    throw new Stop(`\`wrangler ${args.slice(0, 3).join(' ')}\` failed (exit ${r.status})${detail}`);
  }
  return r;
}

const say = (message) => console.log(`deploy: ${message}`);

/** Stops with a clear message unless wrangler can reach an account. */
function requireLogin() {
  const r = wrangler(['whoami', '--json'], { capture: true, allowFail: true });
  let who = null;
  try {
    who = JSON.parse(r.stdout);
  } catch {
    // not JSON: not logged in, or wrangler failed; both end here
  }
  if (!who?.loggedIn) {
    throw new Stop(
      'wrangler is not logged in to Cloudflare. Run `npx wrangler login` (a browser opens), ' +
        'or set CLOUDFLARE_API_TOKEN (and CLOUDFLARE_ACCOUNT_ID) for a token with Workers, KV and R2 ' +
        'edit rights, then run `make deploy` again.',
    );
  }
  const accounts = who.accounts ?? [];
  if (accounts.length > 1 && !process.env.CLOUDFLARE_ACCOUNT_ID) {
    throw new Stop(
      `this login reaches ${accounts.length} accounts; choose one with CLOUDFLARE_ACCOUNT_ID=<id> make deploy ` +
        `(${accounts.map((a) => `${a.name}: ${a.id}`).join('; ')})`,
    );
  }
  say(`logged in as ${who.email ?? who.authType}`);
}

/** The id of the KV namespace titled `kvTitle`, created when there is none. */
function kvNamespace() {
  const find = () => {
    const list = JSON.parse(wrangler(['kv', 'namespace', 'list'], { capture: true }).stdout);
    return list.find((n) => n.title === kvTitle)?.id;
  };
  let id = find();
  if (id) {
    say(`KV namespace "${kvTitle}" exists (${id})`);
    return id;
  }
  say(`creating KV namespace "${kvTitle}"`);
  wrangler(['kv', 'namespace', 'create', kvTitle], { capture: true });
  id = find();
  if (!id) throw new Stop(`KV namespace "${kvTitle}" was created but is not listed; run make deploy again`);
  return id;
}

/** Creates the R2 bucket `bucketName` unless it exists. */
function r2Bucket() {
  const names = () =>
    wrangler(['r2', 'bucket', 'list'], { capture: true })
      .stdout.replace(ANSI, '')
      .split('\n')
      .map((l) => l.match(/^name:\s+(\S+)\s*$/)?.[1])
      .filter(Boolean);
  if (names().includes(bucketName)) {
    say(`R2 bucket "${bucketName}" exists`);
    return;
  }
  say(`creating R2 bucket "${bucketName}"`);
  wrangler(['r2', 'bucket', 'create', bucketName], { capture: true });
}

/** The names of the secrets already set on the Worker (none if it does not exist yet). */
function secretsSet(config) {
  const r = wrangler(['secret', 'list', '--config', config], { capture: true, allowFail: true });
  if (r.status !== 0) {
    if (/not found/i.test(`${r.stdout}${r.stderr}`)) return [];
    throw new Stop(`\`wrangler secret list\` failed:\n${(r.stderr || r.stdout).trim()}`);
  }
  return JSON.parse(r.stdout).map((s) => s.name);
}

/** Reads a line from the terminal without showing it. */
async function askHidden(question) {
  const { stdin, stdout } = process;
  stdout.write(question);
  stdin.setRawMode(true);
  stdin.resume();
  stdin.setEncoding('utf8');
  let value = '';
  try {
    for await (const chunk of stdin) {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') return value;
        if (ch === '\u0003') throw new Stop('stopped');
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else value += ch;
      }
    }
    return value;
  } finally {
    stdin.setRawMode(false);
    stdin.pause();
    stdout.write('\n');
  }
}

/** Refuses values that cannot work or must not be used in production. */
function checkSecret(s, value) {
  if (!s.prefix) return;
  for (const key of value.split(',').map((k) => k.trim()).filter(Boolean)) {
    if (key.startsWith('ct_')) throw new Stop(`${s.name}: a key may not start with ct_ (customer tokens do)`);
    if (key.endsWith('_test_local')) throw new Stop(`${s.name}: ${s.prefix}test_local is for local use only`);
    if (key.length < 24) throw new Stop(`${s.name}: each key needs at least 24 characters`);
  }
}

/**
 * Sets every secret the Worker does not have yet, once: from the environment variable of
 * the same name, else asked for on the terminal without echo. Secrets already set are
 * left alone (rotating one is README "Operating it"), so a second run asks nothing.
 */
async function putSecrets(config) {
  const have = new Set(secretsSet(config));
  // Optional secrets are asked for on the first run only; later, set one from the
  // environment or with `wrangler secret put`.
  const firstRun = have.size === 0;
  for (const s of SECRETS) {
    if (have.has(s.name)) {
      say(`secret ${s.name} is set`);
      continue;
    }
    let value = (process.env[s.name] ?? '').trim();
    if (!value && process.stdin.isTTY && (s.required || firstRun)) {
      value = (await askHidden(`${s.name}: ${s.about}\n  value (not shown): `)).trim();
    }
    if (!value && s.generate) value = randomBytes(32).toString('hex');
    if (!value) {
      if (s.required) {
        throw new Stop(`${s.name} is required: ${s.about}. Set it in the environment or run make deploy in a terminal.`);
      }
      say(`secret ${s.name} left unset`);
      continue;
    }
    checkSecret(s, value);
    wrangler(['secret', 'put', s.name, '--config', config], { input: value, capture: true });
    say(`secret ${s.name} set`);
  }
}

/** The `Total Upload: X KiB / gzip: Y KiB` line of a deploy's output, as numbers. */
function uploadSize(output) {
  const plain = output.replace(ANSI, '');
  const m = plain.match(/Total Upload: ([\d.]+) KiB \/ gzip: ([\d.]+) KiB/);
  return m ? { raw: Number(m[1]), gzip: Number(m[2]) } : null;
}

function dryRun() {
  const config = writeConfig('dry-run', DRY_RUN_KV_ID);
  const outdir = join(root, 'target/deploy/dry-run/bundle');
  const r = wrangler(['deploy', '--dry-run', '--outdir', outdir, '--config', config], { capture: true });
  const output = `${r.stdout}\n${r.stderr}`;
  process.stdout.write(output);
  const size = uploadSize(output);
  if (!size) throw new Stop('the dry run printed no "Total Upload" line');
  const over = ['raw', 'gzip'].filter((k) => size[k] > BUDGET_KIB[k]);
  const report = `bundle ${size.raw} KiB / gzip ${size.gzip} KiB; budget ${BUDGET_KIB.raw} / ${BUDGET_KIB.gzip} KiB`;
  if (over.length) throw new Stop(`${report}: over budget (${over.join(', ')}); see BUDGET_KIB in scripts/deploy.mjs`);
  say(`${report}: within budget`);
  say(`configuration checked: ${config}`);
}

async function deploy() {
  requireLogin();
  const kvId = kvNamespace();
  r2Bucket();
  const config = writeConfig(workerName, kvId);
  say(`configuration: ${config}`);
  // Secrets before the first deploy: `[secrets] required` makes wrangler refuse a Worker
  // without them (and `wrangler secret put` creates the Worker when it does not exist).
  await putSecrets(config);
  wrangler(['deploy', '--config', config]);
  say('deployed. Check it end to end: make smoke BASE_URL=https://… SECRET_KEY=… INGEST_KEY=…');
}

try {
  if (process.argv.includes('--dry-run')) dryRun();
  else await deploy();
} catch (e) {
  if (!(e instanceof Stop)) throw e;
  console.error(`deploy: ${e.message}`);
  process.exitCode = 1;
}
