// The JavaScript workers that `make bench-load` measures edgemeter against (see
// wrangler.toml next to this file and BENCHMARKS.md "Ingest under load"). They take
// edgemeter's ingest body, `{"events": [{idempotency_key, customer_id, event_name,
// value}, …]}`, and do the least that edgemeter's design must do, with none of its
// validation, hashing or metrics:
//
//   /null     reads the body and answers 200: the cost of HTTP and of wrangler dev itself.
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
// once too.

import { DurableObject } from "cloudflare:workers";

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    try {
      if (url.pathname === "/healthz") return new Response("ok");
      if (request.method === "POST" && url.pathname === "/null") {
        await request.arrayBuffer();
        return json({ ok: true });
      }
      if (request.method === "POST" && url.pathname === "/floor") return await ingest(request, env, false);
      if (request.method === "POST" && url.pathname === "/batched") return await ingest(request, env, true);
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

async function ingest(request, env, batched) {
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
      batched ? viaLane(env, customer, rows) : callFloor(env, customer, rows),
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

// Per customer in this isolate: whether a call is in flight, and the requests' events
// waiting for the next one. Only plain data and promise resolvers cross requests, never a
// response or a stream (workerd forbids using one request's I/O objects in another).
const lanes = new Map();

async function viaLane(env, customer, rows) {
  let lane = lanes.get(customer);
  if (!lane) lanes.set(customer, (lane = { busy: false, waiting: [] }));
  const entry = { rows, settle: null };
  if (!lane.busy) {
    lane.busy = true;
    return lead(env, customer, lane, [entry]);
  }
  const turn = new Promise((resolve) => {
    entry.settle = resolve;
  });
  lane.waiting.push(entry);
  // A request whose only pending work is a promise another request settles is cancelled
  // by workerd as hung; a timer of its own, cleared once its turn comes, keeps it alive.
  const keepAlive = setTimeout(() => {}, 60_000);
  let msg;
  try {
    msg = await turn;
  } finally {
    clearTimeout(keepAlive);
  }
  if (msg.lead) {
    // Handed the lane by another request: yield to a timer of this request's own before
    // calling the object. Without this, some handed-over calls failed under load with
    // "Cannot perform I/O on behalf of a different request" (4 to 185 requests in a few
    // seconds of 16 connections on one customer); with it, none did.
    await new Promise((resolve) => setTimeout(resolve, 0));
    return lead(env, customer, lane, msg.group);
  }
  if (msg.error) throw new Error(msg.error);
  return msg.result;
}

// Makes one object call for `group` (this request's own entry first), hands the lane to
// whoever waited meanwhile, and gives each waiting request its own events' fates.
async function lead(env, customer, lane, group) {
  let results;
  let error = null;
  try {
    results = await callBatched(env, customer, group);
  } catch (e) {
    error = String((e && e.message) || e);
  }
  if (lane.waiting.length > 0) {
    const next = lane.waiting.splice(0, lane.waiting.length);
    next[0].settle({ lead: true, group: next });
  } else {
    lane.busy = false;
  }
  for (let i = 1; i < group.length; i++) {
    group[i].settle(error ? { error } : { result: { ...results[i], calls: 0 } });
  }
  if (error) throw new Error(error);
  return { ...results[0], calls: 1 };
}

async function callBatched(env, customer, group) {
  const rows = [];
  for (const e of group) for (const row of e.rows) rows.push(row);
  const stub = env.BATCHED.get(env.BATCHED.idFromName(customer));
  const r = await stub.fetch("https://batched/ingest", {
    method: "POST",
    body: JSON.stringify(rows),
    headers: { "x-sizes": group.map((e) => e.rows.length).join(",") },
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
    return json(this.ingest(await request.text(), request.headers.get("x-sizes")));
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
    for (const [name, s] of sums) this.sql.exec(UPSERT_AGGREGATE, name, s.total, s.count);
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
