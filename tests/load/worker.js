// The JavaScript workers that `make bench-load` measures edgemeter against (see
// wrangler.toml next to this file and BENCHMARKS.md "Ingest under load"). They take
// edgemeter's ingest body, `{"events": [{idempotency_key, customer_id, event_name,
// value}, …]}`, and do the least that edgemeter's design must do, with none of its
// validation, hashing or metrics:
//
//   /null     reads the body and answers 200: the cost of HTTP and of wrangler dev itself
//             (`GET /null`: the reference for `make bench-load`'s entitlement checks).
//   /floor    parses, groups by customer, makes one Durable Object call per customer in
//             the request, and the object inserts each event by key (a duplicate key
//             changes nothing) and upserts one aggregate, in one SQLite transaction.
//   /batched  the same with natural batching of object calls: while a call to a
//             customer's object is in flight, that customer's events from other requests
//             in this isolate wait and go together in the next call (no timer); the object
//             writes a call's events with one set-based INSERT.
//
// Every answer of /floor and /batched says in `x-edgemeter-do-calls` how many object calls
// the request made, so the benchmark can report calls per 1,000 events. `GET /usage`
// reads an object's aggregate back, so the benchmark can check the floors count exactly
// once too. Each object call logs one `edgemeter-cost` line (rows read and written, from
// the SQL cursors' counters, and the database's size), as edgemeter's objects do under
// `EDGEMETER_COST_LOG=1`, so the benchmark can price both alike.

import { DurableObject } from "cloudflare:workers";

export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    try {
      if (url.pathname === "/healthz") return new Response("ok");
      // The entitlement checks' reference: a GET answered with a small JSON body.
      if (request.method === "GET" && url.pathname === "/null") return json({ allowed: true });
      if (request.method === "POST" && url.pathname === "/null") {
        await request.arrayBuffer();
        return json({ ok: true });
      }
      if (request.method === "POST" && url.pathname === "/floor") return await ingest(request, env, ctx, false);
      if (request.method === "POST" && url.pathname === "/batched") return await ingest(request, env, ctx, true);
      if (request.method === "GET" && url.pathname === "/usage") return await usage(url, env);
      return json({ error: "not_found" }, 404);
    } catch (e) {
      return json({ error: String((e && e.message) || e) }, 500);
    }
  },
};

function json(body, status = 200, headers = {}) {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

async function ingest(request, env, ctx, batched) {
  const body = await request.json();
  const events = Array.isArray(body.events) ? body.events : [body];
  const byCustomer = new Map();
  for (const e of events) {
    let rows = byCustomer.get(e.customer_id);
    if (!rows) byCustomer.set(e.customer_id, (rows = []));
    rows.push([e.idempotency_key, e.event_name, e.value ?? 1]);
  }
  const outcomes = await Promise.all(
    [...byCustomer].map(([customer, rows]) =>
      batched ? viaLane(env, ctx, customer, rows) : callFloor(env, customer, rows),
    ),
  );
  let accepted = 0;
  let duplicates = 0;
  let calls = 0;
  for (const o of outcomes) {
    accepted += o.accepted;
    duplicates += o.duplicates;
    calls += o.calls;
  }
  return json({ accepted, duplicates }, 200, { "x-edgemeter-do-calls": String(calls) });
}

async function callFloor(env, customer, rows) {
  const stub = env.FLOOR.get(env.FLOOR.idFromName(customer));
  const r = await stub.fetch("https://floor/ingest", { method: "POST", body: JSON.stringify(rows) });
  if (!r.ok) throw new Error(`floor object: ${r.status} ${await r.text()}`);
  const o = await r.json();
  return { accepted: o.accepted, duplicates: o.duplicates, calls: 1 };
}

// --- Natural batching (/batched) ---

// Per customer in this isolate: whether a call is in flight (`busy`), the requests'
// events waiting for the next call, and when the lane's driver last made progress.
// Only plain data and promise resolvers cross requests: a request's I/O (the object
// calls) is only ever made in that request's own context, as workerd requires.
const lanes = new Map();

// A waiting request checks this often that the lane still has a driver, and takes over
// if it has had none (or no progress) for STALLED_MS; in a normal run this never happens.
const CHECK_MS = 1000;
const STALLED_MS = 20_000;

async function viaLane(env, ctx, customer, rows) {
  let lane = lanes.get(customer);
  if (!lane) lanes.set(customer, (lane = { busy: false, waiting: [], beat: 0 }));
  if (!lane.busy) {
    // Nothing in flight: call at once with this request's own events, then, after this
    // request has its answer, carry whatever queued meanwhile (ctx.waitUntil keeps this
    // request's context, where those calls are made, alive for that).
    lane.busy = true;
    lane.beat = Date.now();
    let own;
    try {
      [own] = await callBatched(env, customer, [rows]);
    } finally {
      ctx.waitUntil(drive(env, customer, lane));
    }
    return { ...own, calls: 1 };
  }
  const entry = { rows, settle: null };
  const turn = new Promise((resolve) => {
    entry.settle = resolve;
  });
  lane.waiting.push(entry);
  // A request whose only pending work is a promise another request settles is cancelled
  // by workerd as hung; a timer of its own keeps it alive while it waits, and doubles as
  // the watchdog that takes the lane over if its driver went away.
  const watchdog = setInterval(() => {
    const stalled = Date.now() - lane.beat > STALLED_MS;
    if ((!lane.busy || stalled) && lane.waiting.includes(entry)) {
      lane.busy = true;
      lane.beat = Date.now();
      ctx.waitUntil(drive(env, customer, lane));
    }
  }, CHECK_MS);
  let msg;
  try {
    msg = await turn;
  } finally {
    clearInterval(watchdog);
  }
  if (msg.error) throw new Error(msg.error);
  return msg.result;
}

// Makes one call per round for everything that waits, until nothing does; each waiting
// request gets its own events' fates (the call is counted in the first one's answer).
async function drive(env, customer, lane) {
  while (lane.waiting.length > 0) {
    const group = lane.waiting.splice(0, lane.waiting.length);
    lane.beat = Date.now();
    let results;
    let error = null;
    try {
      results = await callBatched(env, customer, group.map((e) => e.rows));
    } catch (e) {
      error = String((e && e.message) || e);
    }
    lane.beat = Date.now();
    group.forEach((e, i) => e.settle(error ? { error } : { result: { ...results[i], calls: i === 0 ? 1 : 0 } }));
  }
  lane.busy = false;
}

async function callBatched(env, customer, groups) {
  const rows = [];
  for (const g of groups) for (const row of g) rows.push(row);
  const stub = env.BATCHED.get(env.BATCHED.idFromName(customer));
  const r = await stub.fetch("https://batched/ingest", {
    method: "POST",
    body: JSON.stringify(rows),
    headers: { "x-sizes": groups.map((g) => g.length).join(",") },
  });
  if (!r.ok) throw new Error(`batched object: ${r.status} ${await r.text()}`);
  return (await r.json()).results;
}

async function usage(url, env) {
  const ns = url.searchParams.get("kind") === "batched" ? env.BATCHED : env.FLOOR;
  const stub = ns.get(ns.idFromName(url.searchParams.get("customer")));
  const event = encodeURIComponent(url.searchParams.get("event_name"));
  return stub.fetch(`https://object/usage?event_name=${event}`);
}

// --- The objects ---

const SCHEMA = [
  "CREATE TABLE IF NOT EXISTS events (key TEXT PRIMARY KEY, event_name TEXT NOT NULL, value REAL NOT NULL)",
  "CREATE TABLE IF NOT EXISTS aggregates (event_name TEXT PRIMARY KEY, total REAL NOT NULL, count INTEGER NOT NULL)",
];
const UPSERT_AGGREGATE =
  "INSERT INTO aggregates (event_name, total, count) VALUES (?, ?, ?) " +
  "ON CONFLICT (event_name) DO UPDATE SET total = total + excluded.total, count = count + excluded.count";

class Ledger extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    for (const s of SCHEMA) this.sql.exec(s);
  }

  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === "/usage") {
      const rows = this.sql
        .exec("SELECT total, count FROM aggregates WHERE event_name = ?", url.searchParams.get("event_name"))
        .toArray();
      return json(rows[0] || { total: 0, count: 0 });
    }
    this.counted = { read: 0, written: 0 };
    const answer = this.ingest(await request.text(), request.headers.get("x-sizes"));
    console.log(
      `edgemeter-cost object=${this.ctx.id} rows_read=${this.counted.read} ` +
        `rows_written=${this.counted.written} db_bytes=${this.sql.databaseSize}`,
    );
    return json(answer);
  }

  // Counts a finished cursor's rows read and written to this call.
  count(cursor) {
    this.counted.read += cursor.rowsRead;
    this.counted.written += cursor.rowsWritten;
  }

  // Adds each accepted event's value to its event name's aggregate, one upsert per name.
  upsertAggregates(accepted) {
    const sums = new Map();
    for (const [, name, value] of accepted) {
      const s = sums.get(name) || { total: 0, count: 0 };
      s.total += value;
      s.count += 1;
      sums.set(name, s);
    }
    for (const [name, s] of sums) this.count(this.sql.exec(UPSERT_AGGREGATE, name, s.total, s.count));
  }
}

// One INSERT per event, in one transaction.
export class FloorObject extends Ledger {
  ingest(text) {
    const rows = JSON.parse(text);
    return this.ctx.storage.transactionSync(() => {
      const accepted = [];
      for (const row of rows) {
        const c = this.sql.exec(
          "INSERT INTO events (key, event_name, value) VALUES (?, ?, ?) ON CONFLICT (key) DO NOTHING",
          row[0],
          row[1],
          row[2],
        );
        c.toArray();
        this.count(c);
        if (c.rowsWritten > 0) accepted.push(row);
      }
      this.upsertAggregates(accepted);
      return { accepted: accepted.length, duplicates: rows.length - accepted.length };
    });
  }
}

// One set-based INSERT per call (the events as one JSON parameter), in one transaction;
// the fates go back per request, in the order of `x-sizes`.
export class BatchedObject extends Ledger {
  ingest(text, sizes) {
    const rows = JSON.parse(text);
    return this.ctx.storage.transactionSync(() => {
      const inserted = new Set();
      const cursor = this.sql.exec(
        "INSERT INTO events (key, event_name, value) " +
          "SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]') " +
          "FROM json_each(?) WHERE true ON CONFLICT (key) DO NOTHING RETURNING key",
        text,
      );
      for (const r of cursor) inserted.add(r.key);
      this.count(cursor);
      const accepted = [];
      const results = [];
      let at = 0;
      for (const n of sizes.split(",").map(Number)) {
        let ok = 0;
        for (const row of rows.slice(at, at + n)) {
          // The first of two copies of a key in one call is the one inserted.
          if (inserted.delete(row[0])) {
            ok += 1;
            accepted.push(row);
          }
        }
        results.push({ accepted: ok, duplicates: n - ok });
        at += n;
      }
      this.upsertAggregates(accepted);
      return { results };
    });
  }
}
