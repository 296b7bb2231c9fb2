// Where the worker's CPU goes on ingest: a sampling CPU profile of `make build`'s worker
// under `wrangler dev`, taken through its inspector (Chrome DevTools protocol), while
// 1,000-event requests for one warm customer are sent one at a time.
//
//   make build && node scripts/profile-ingest.mjs
//
// Settings: PROFILE_REQUESTS (100, profiled), PROFILE_WARM (100, not profiled),
// PROFILE_KEYS (v4 | v7), PROFILE_BATCH (1000 events a request), PROFILE_CONCURRENCY (1:
// requests in flight at once; 16 and PROFILE_BATCH=100 is `make bench-load`'s
// one-customer shape), PROFILE_TOP (40 rows), PROFILE_OUT (also write the raw
// .cpuprofile there, for Chrome's DevTools). The worker, its objects and SQLite run in
// one workerd isolate here, so the profile holds the front and the customer's object
// alike; "by root" splits the samples between the two by the first frame of ours on
// each stack. Not part of `make test`: a tool for BENCHMARKS.md's write-path work.

import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, readdirSync, writeFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { join, resolve, dirname } from "node:path";
import { randomUUID, randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import WebSocket from "ws";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const env = (k, d) => process.env[k] ?? d;
const REQUESTS = Number(env("PROFILE_REQUESTS", 100));
const WARM = Number(env("PROFILE_WARM", 100));
const V7 = env("PROFILE_KEYS", "v4") === "v7";
const TOP = Number(env("PROFILE_TOP", 40));
const BATCH = Number(env("PROFILE_BATCH", 1000));
const CONCURRENCY = Number(env("PROFILE_CONCURRENCY", 1));
// PROFILE_WORKER=batched profiles the load benchmark's batched JS floor instead
// (tests/load/worker.js), the same requests at the same table sizes.
const FLOOR = env("PROFILE_WORKER", "edgemeter") === "batched";
const SECRET = "sk_test_profile";
const INGEST = "ik_test_profile";

const freePort = () =>
  new Promise((ok) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const p = s.address().port;
      s.close(() => ok(p));
    });
  });

/** wrangler.toml without its [build] table, paths from the root: served as built. */
function servedAsBuilt(dir) {
  let inBuild = false;
  const out = [];
  for (const line of readFileSync(join(root, "wrangler.toml"), "utf8").split("\n")) {
    const table = line.trimStart().startsWith("[");
    if (table) inBuild = line.trim() === "[build]";
    if (inBuild) continue;
    const m = !table && line.match(/^\s*(main|directory)\s*=\s*"?([^"]*)"?\s*$/);
    out.push(m ? `${m[1]} = "${join(root, m[2])}"` : line);
  }
  const path = join(dir, "wrangler.toml");
  writeFileSync(path, out.join("\n"));
  return path;
}

function uuidV7() {
  const b = randomBytes(16);
  const ms = BigInt(Date.now());
  for (let i = 0; i < 6; i++) b[i] = Number((ms >> BigInt(8 * (5 - i))) & 0xffn);
  b[6] = (b[6] & 0x0f) | 0x70;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = b.toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

const batch = (customer, name, n) =>
  JSON.stringify({
    events: Array.from({ length: n }, () => ({
      idempotency_key: V7 ? uuidV7() : randomUUID(),
      customer_id: customer,
      event_name: name,
      value: 1,
    })),
  });

async function main() {
  const dir = join(root, "target/profile-ingest");
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const [port, inspector] = [await freePort(), await freePort()];
  const base = `http://127.0.0.1:${port}`;
  const config = FLOOR ? join(root, "tests/load/wrangler.toml") : servedAsBuilt(dir);
  const args = ["dev", "-c", config, "--ip", "127.0.0.1", "--port", `${port}`,
    "--inspector-port", `${inspector}`, "--persist-to", join(dir, "state"),
    "--show-interactive-dev-session=false",
    "--var", `EDGEMETER_SECRET_KEYS:${SECRET}`, "--var", `EDGEMETER_INGEST_KEYS:${INGEST}`,
    "--var", "EDGEMETER_TOKEN_SECRET:profile-token-secret"];
  const server = spawn(join(root, "node_modules/.bin/wrangler"), args, {
    cwd: root, detached: true, stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", EDGEMETER_SKIP_BUILD: "1" },
  });
  let log = "";
  server.stdout.on("data", (d) => (log += d));
  server.stderr.on("data", (d) => (log += d));
  const stop = () => { try { process.kill(-server.pid, "SIGTERM"); } catch {} };
  process.on("exit", stop);
  try {
    for (let i = 0; ; i++) {
      try { if ((await fetch(`${base}/healthz`)).ok) break; } catch {}
      if (i > 600) throw new Error(`wrangler dev did not start:\n${log}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const post = async (path, body, key = SECRET) => {
      const r = await fetch(base + path, { method: "POST", body,
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" } });
      const text = await r.text();
      if (!r.ok) throw new Error(`${path}: ${r.status} ${text.slice(0, 300)}`);
      return JSON.parse(text);
    };
    const name = `profile_${randomUUID().slice(0, 8)}`;
    let customer = "cus_profile";
    if (!FLOOR) {
      await post("/v1/billing/metrics", JSON.stringify({ code: name, name, event_name: name, aggregation: "count" }));
      customer = (await post("/v1/customers", JSON.stringify({ name: "Profile", email: "p@example.test" }))).id;
    }
    const send = async (n) => {
      let left = n;
      const one = async () => {
        while (left > 0) {
          left -= 1;
          const r = await post(FLOOR ? "/batched" : "/v1/usage/ingest", batch(customer, name, BATCH), INGEST);
          if (r.accepted !== BATCH) throw new Error(`accepted ${r.accepted}`);
        }
      };
      await Promise.all(Array.from({ length: CONCURRENCY }, one));
    };
    console.error(`profile-ingest: warming up (${WARM} requests of ${BATCH} events)`);
    await send(WARM);

    const targets = await (await fetch(`http://127.0.0.1:${inspector}/json`)).json();
    if (process.env.PROFILE_DEBUG) console.error(JSON.stringify(targets));
    const ws = new WebSocket(targets[0].webSocketDebuggerUrl);
    await new Promise((ok, no) => { ws.onopen = ok; ws.onerror = (e) => no(new Error(`inspector: ${e.message}\n${log.slice(-2000)}`)); });
    let id = 0;
    const waiting = new Map();
    ws.onmessage = (m) => {
      const msg = JSON.parse(m.data);
      if (msg.id && waiting.has(msg.id)) { waiting.get(msg.id)(msg); waiting.delete(msg.id); }
    };
    const cdp = (method, params = {}) =>
      new Promise((ok) => { const i = ++id; waiting.set(i, ok); ws.send(JSON.stringify({ id: i, method, params })); });
    await cdp("Profiler.enable");
    await cdp("Profiler.setSamplingInterval", { interval: 100 });
    await cdp("Profiler.start");
    console.error(`profile-ingest: profiling ${REQUESTS} requests of ${BATCH} events (keys ${V7 ? "v7" : "v4"})`);
    const t0 = performance.now();
    await send(REQUESTS);
    const wall = performance.now() - t0;
    const { result } = await cdp("Profiler.stop");
    ws.close();
    if (process.env.PROFILE_OUT) writeFileSync(process.env.PROFILE_OUT, JSON.stringify(result.profile));
    report(result.profile, wall, bundleLines(dirname(config)));
  } finally {
    stop();
  }
}

/** The lines of the bundle wrangler is serving (deleted when it stops), or none. */
function bundleLines(configDir) {
  try {
    const tmp = join(configDir, ".wrangler/tmp");
    const dev = readdirSync(tmp).find((d) => d.startsWith("dev-"));
    return readFileSync(join(tmp, dev, "index.js"), "utf8").split("\n");
  } catch {
    return [];
  }
}

/**
 * A name for a frame the profile leaves anonymous: in the bundle, most are wasm-bindgen's
 * imports (`__wbg_exec_85b6…: __name(function(t, e) {…`), named by the key written just
 * before the function starts.
 */
function anonymousName(lines, frame) {
  const before = (lines[frame.lineNumber] ?? "").slice(0, frame.columnNumber);
  const m = before.match(/([A-Za-z_$][\w$]*)\s*[:=]\s*(?:\/\*[^*]*\*\/\s*)?(?:__name\(\s*)?(?:async\s+)?(?:function\s*\*?\s*[\w$]*\s*)?$/);
  return m && `${m[1].replace(/_[0-9a-f]{16}$/, "")} (js)`;
}

/** Self time by function, and the samples split by the first frame of ours on each stack. */
function report(p, wall, lines) {
  const nodes = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const dt = new Map();
  for (let i = 0; i < p.samples.length; i++) {
    dt.set(p.samples[i], (dt.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0));
  }
  const label = (n) =>
    n.callFrame.functionName ||
    anonymousName(lines, n.callFrame) ||
    `(anonymous ${n.callFrame.url.split("/").pop()}:${n.callFrame.lineNumber})`;
  const self = new Map();
  const inclusive = new Map();
  let total = 0, idle = 0;
  for (const [nid, us] of dt) {
    const n = nodes.get(nid);
    const l = label(n);
    if (l === "(idle)" || l === "(program)" || l === "(garbage collector)") {
      if (l === "(idle)") { idle += us; continue; }
    }
    total += us;
    self.set(l, (self.get(l) ?? 0) + us);
    // Inclusive: each function once per stack.
    const seen = new Set();
    for (let x = nid; x !== undefined; x = parent.get(x)) {
      const f = label(nodes.get(x));
      if (!seen.has(f)) { seen.add(f); inclusive.set(f, (inclusive.get(f) ?? 0) + us); }
    }
  }
  const ms = (us) => (us / 1000 / REQUESTS).toFixed(2);
  const pct = (us) => ((100 * us) / total).toFixed(1);
  console.log(`\n${REQUESTS} requests of ${BATCH} events, ${(wall / REQUESTS).toFixed(1)} ms each (wall); ` +
    `busy samples ${(total / 1000 / REQUESTS).toFixed(2)} ms per request, idle ${ms(idle)}\n`);
  const table = (title, m) => {
    console.log(`| ${title} | ms / request | % of busy |\n| --- | ---: | ---: |`);
    for (const [f, us] of [...m].sort((a, b) => b[1] - a[1]).slice(0, TOP)) {
      console.log(`| \`${f.replace(/\|/g, "\\|").slice(0, 110)}\` | ${ms(us)} | ${pct(us)} |`);
    }
    console.log();
  };
  table("self time", self);
  table("inclusive", inclusive);
}

main().catch((e) => { console.error(e); process.exit(1); });
