#!/usr/bin/env node
// A stand-in for wrangler with a pretend Cloudflare account, for the test of `make deploy`
// (tests/tests/operations.rs): it answers the commands scripts/deploy.mjs runs, in the
// forms wrangler 4.86.0 prints them, and keeps the account in the JSON file named by
// FAKE_WRANGLER_STATE. It records what was done, never a secret's value (only its length),
// so the test can check what a run changed.

import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

const statePath = process.env.FAKE_WRANGLER_STATE;
const state = existsSync(statePath)
  ? JSON.parse(readFileSync(statePath, 'utf8'))
  : { kv: [], buckets: [], worker: null, log: [] };
const args = process.argv.slice(2);
const words = args.filter((a, i) => !a.startsWith('--') && !args[i - 1]?.startsWith('--config'));
const cmd = words.slice(0, 3).join(' ');
const flag = (name) => args[args.indexOf(name) + 1];

function done(code = 0) {
  writeFileSync(statePath, JSON.stringify(state, null, 2));
  process.exit(code);
}

function fail(message) {
  console.error(`✘ [ERROR] ${message}`);
  done(1);
}

const stdin = () => (process.stdin.isTTY ? '' : readFileSync(0, 'utf8'));

if (cmd === 'whoami') {
  console.log(JSON.stringify({ loggedIn: true, authType: 'OAuth Token', email: 'ops@example.com', accounts: [{ id: 'acc1', name: 'Ops' }] }));
  done();
} else if (cmd === 'kv namespace list') {
  console.log(JSON.stringify(state.kv, null, '  '));
  done();
} else if (cmd.startsWith('kv namespace create')) {
  const title = args[3];
  if (state.kv.some((n) => n.title === title)) fail(`A KV namespace with the title "${title}" already exists.`);
  state.kv.push({ id: randomBytes(16).toString('hex'), title });
  state.log.push(`kv create ${title}`);
  console.log(`🌀 Creating namespace with title "${title}"\n✨ Success!`);
  done();
} else if (cmd === 'r2 bucket list') {
  console.log('Listing buckets...');
  console.log(state.buckets.map((b) => `name:           ${b}\ncreation_date:  2026-12-07T00:00:00.000Z`).join('\n\n'));
  done();
} else if (cmd.startsWith('r2 bucket create')) {
  state.buckets.push(args[3]);
  state.log.push(`r2 create ${args[3]}`);
  done();
} else if (cmd === 'secret list') {
  if (!state.worker) fail('Worker "edgemeter" not found.\n\nIf this is a new Worker, run `wrangler deploy` first to create it.');
  console.log(JSON.stringify(Object.keys(state.worker.secrets).map((name) => ({ name, type: 'secret_text' }))));
  done();
} else if (cmd.startsWith('secret put')) {
  const value = stdin().trim();
  if (!value) fail('no value on standard input');
  state.worker ??= { secrets: {}, deployed: 0 };
  state.worker.secrets[args[2]] = value.length;
  state.log.push(`secret put ${args[2]}`);
  done();
} else if (cmd === 'deploy') {
  const config = readFileSync(flag('--config'), 'utf8');
  const kvId = config.match(/^id = "([0-9a-f]{32})"$/m)?.[1];
  if (!state.kv.some((n) => n.id === kvId)) fail(`KV namespace ${kvId} does not exist`);
  const required = JSON.parse(config.match(/^required = (\[.*\])$/m)?.[1] ?? '[]');
  const missing = required.filter((s) => !(s in (state.worker?.secrets ?? {})));
  if (missing.length) fail(`The following required secrets have not been set: ${missing.join(', ')}`);
  state.worker.deployed += 1;
  state.log.push('deploy');
  console.log('Total Upload: 1733.05 KiB / gzip: 597.86 KiB\nDeployed edgemeter triggers');
  done();
} else {
  fail(`the stand-in does not know \`wrangler ${args.join(' ')}\``);
}
