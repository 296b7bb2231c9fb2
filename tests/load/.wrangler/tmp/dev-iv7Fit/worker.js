var __defProp = Object.defineProperty;
var __name = (target, value) => __defProp(target, "name", { value, configurable: true });

// worker.js
import { DurableObject } from "cloudflare:workers";
var worker_default = {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    try {
      if (url.pathname === "/healthz") return new Response("ok");
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
      return json({ error: String(e && e.message || e) }, 500);
    }
  }
};
function json(body, status = 200, headers = {}) {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers }
  });
}
__name(json, "json");
async function ingest(request, env, ctx, batched) {
  const body = await request.json();
  const events = Array.isArray(body.events) ? body.events : [body];
  const byCustomer = /* @__PURE__ */ new Map();
  for (const e of events) {
    let rows = byCustomer.get(e.customer_id);
    if (!rows) byCustomer.set(e.customer_id, rows = []);
    rows.push([e.idempotency_key, e.event_name, e.value ?? 1]);
  }
  const outcomes = await Promise.all(
    [...byCustomer].map(
      ([customer, rows]) => batched ? viaLane(env, ctx, customer, rows) : callFloor(env, customer, rows)
    )
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
__name(ingest, "ingest");
async function callFloor(env, customer, rows) {
  const stub = env.FLOOR.get(env.FLOOR.idFromName(customer));
  const r = await stub.fetch("https://floor/ingest", { method: "POST", body: JSON.stringify(rows) });
  if (!r.ok) throw new Error(`floor object: ${r.status} ${await r.text()}`);
  const o = await r.json();
  return { accepted: o.accepted, duplicates: o.duplicates, calls: 1 };
}
__name(callFloor, "callFloor");
var lanes = /* @__PURE__ */ new Map();
var CHECK_MS = 1e3;
var STALLED_MS = 2e4;
async function viaLane(env, ctx, customer, rows) {
  let lane = lanes.get(customer);
  if (!lane) lanes.set(customer, lane = { busy: false, waiting: [], beat: 0 });
  if (!lane.busy) {
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
__name(viaLane, "viaLane");
async function drive(env, customer, lane) {
  while (lane.waiting.length > 0) {
    const group = lane.waiting.splice(0, lane.waiting.length);
    lane.beat = Date.now();
    let results;
    let error = null;
    try {
      results = await callBatched(env, customer, group.map((e) => e.rows));
    } catch (e) {
      error = String(e && e.message || e);
    }
    lane.beat = Date.now();
    group.forEach((e, i) => e.settle(error ? { error } : { result: { ...results[i], calls: i === 0 ? 1 : 0 } }));
  }
  lane.busy = false;
}
__name(drive, "drive");
async function callBatched(env, customer, groups) {
  const rows = [];
  for (const g of groups) for (const row of g) rows.push(row);
  const stub = env.BATCHED.get(env.BATCHED.idFromName(customer));
  const r = await stub.fetch("https://batched/ingest", {
    method: "POST",
    body: JSON.stringify(rows),
    headers: { "x-sizes": groups.map((g) => g.length).join(",") }
  });
  if (!r.ok) throw new Error(`batched object: ${r.status} ${await r.text()}`);
  return (await r.json()).results;
}
__name(callBatched, "callBatched");
async function usage(url, env) {
  const ns = url.searchParams.get("kind") === "batched" ? env.BATCHED : env.FLOOR;
  const stub = ns.get(ns.idFromName(url.searchParams.get("customer")));
  const event = encodeURIComponent(url.searchParams.get("event_name"));
  return stub.fetch(`https://object/usage?event_name=${event}`);
}
__name(usage, "usage");
var SCHEMA = [
  "CREATE TABLE IF NOT EXISTS events (key TEXT PRIMARY KEY, event_name TEXT NOT NULL, value REAL NOT NULL)",
  "CREATE TABLE IF NOT EXISTS aggregates (event_name TEXT PRIMARY KEY, total REAL NOT NULL, count INTEGER NOT NULL)"
];
var UPSERT_AGGREGATE = "INSERT INTO aggregates (event_name, total, count) VALUES (?, ?, ?) ON CONFLICT (event_name) DO UPDATE SET total = total + excluded.total, count = count + excluded.count";
var Ledger = class extends DurableObject {
  static {
    __name(this, "Ledger");
  }
  constructor(ctx, env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    for (const s of SCHEMA) this.sql.exec(s);
  }
  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === "/usage") {
      const rows = this.sql.exec("SELECT total, count FROM aggregates WHERE event_name = ?", url.searchParams.get("event_name")).toArray();
      return json(rows[0] || { total: 0, count: 0 });
    }
    this.counted = { read: 0, written: 0 };
    const answer = this.ingest(await request.text(), request.headers.get("x-sizes"));
    console.log(
      `edgemeter-cost object=${this.ctx.id} rows_read=${this.counted.read} rows_written=${this.counted.written} db_bytes=${this.sql.databaseSize}`
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
    const sums = /* @__PURE__ */ new Map();
    for (const [, name, value] of accepted) {
      const s = sums.get(name) || { total: 0, count: 0 };
      s.total += value;
      s.count += 1;
      sums.set(name, s);
    }
    for (const [name, s] of sums) this.count(this.sql.exec(UPSERT_AGGREGATE, name, s.total, s.count));
  }
};
var FloorObject = class extends Ledger {
  static {
    __name(this, "FloorObject");
  }
  ingest(text) {
    const rows = JSON.parse(text);
    return this.ctx.storage.transactionSync(() => {
      const accepted = [];
      for (const row of rows) {
        const c = this.sql.exec(
          "INSERT INTO events (key, event_name, value) VALUES (?, ?, ?) ON CONFLICT (key) DO NOTHING",
          row[0],
          row[1],
          row[2]
        );
        c.toArray();
        this.count(c);
        if (c.rowsWritten > 0) accepted.push(row);
      }
      this.upsertAggregates(accepted);
      return { accepted: accepted.length, duplicates: rows.length - accepted.length };
    });
  }
};
var BatchedObject = class extends Ledger {
  static {
    __name(this, "BatchedObject");
  }
  ingest(text, sizes) {
    const rows = JSON.parse(text);
    return this.ctx.storage.transactionSync(() => {
      const inserted = /* @__PURE__ */ new Set();
      const cursor = this.sql.exec(
        "INSERT INTO events (key, event_name, value) SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]') FROM json_each(?) WHERE true ON CONFLICT (key) DO NOTHING RETURNING key",
        text
      );
      for (const r of cursor) inserted.add(r.key);
      this.count(cursor);
      const accepted = [];
      const results = [];
      let at = 0;
      for (const n of sizes.split(",").map(Number)) {
        let ok = 0;
        for (const row of rows.slice(at, at + n)) {
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
};

// ../../node_modules/wrangler/templates/middleware/middleware-ensure-req-body-drained.ts
var drainBody = /* @__PURE__ */ __name(async (request, env, _ctx, middlewareCtx) => {
  try {
    return await middlewareCtx.next(request, env);
  } finally {
    try {
      if (request.body !== null && !request.bodyUsed) {
        const reader = request.body.getReader();
        while (!(await reader.read()).done) {
        }
      }
    } catch (e) {
      console.error("Failed to drain the unused request body.", e);
    }
  }
}, "drainBody");
var middleware_ensure_req_body_drained_default = drainBody;

// ../../node_modules/wrangler/templates/middleware/middleware-miniflare3-json-error.ts
function reduceError(e) {
  return {
    name: e?.name,
    message: e?.message ?? String(e),
    stack: e?.stack,
    cause: e?.cause === void 0 ? void 0 : reduceError(e.cause)
  };
}
__name(reduceError, "reduceError");
var jsonError = /* @__PURE__ */ __name(async (request, env, _ctx, middlewareCtx) => {
  try {
    return await middlewareCtx.next(request, env);
  } catch (e) {
    const error = reduceError(e);
    return Response.json(error, {
      status: 500,
      headers: { "MF-Experimental-Error-Stack": "true" }
    });
  }
}, "jsonError");
var middleware_miniflare3_json_error_default = jsonError;

// .wrangler/tmp/bundle-tV2yge/middleware-insertion-facade.js
var __INTERNAL_WRANGLER_MIDDLEWARE__ = [
  middleware_ensure_req_body_drained_default,
  middleware_miniflare3_json_error_default
];
var middleware_insertion_facade_default = worker_default;

// ../../node_modules/wrangler/templates/middleware/common.ts
var __facade_middleware__ = [];
function __facade_register__(...args) {
  __facade_middleware__.push(...args.flat());
}
__name(__facade_register__, "__facade_register__");
function __facade_invokeChain__(request, env, ctx, dispatch, middlewareChain) {
  const [head, ...tail] = middlewareChain;
  const middlewareCtx = {
    dispatch,
    next(newRequest, newEnv) {
      return __facade_invokeChain__(newRequest, newEnv, ctx, dispatch, tail);
    }
  };
  return head(request, env, ctx, middlewareCtx);
}
__name(__facade_invokeChain__, "__facade_invokeChain__");
function __facade_invoke__(request, env, ctx, dispatch, finalMiddleware) {
  return __facade_invokeChain__(request, env, ctx, dispatch, [
    ...__facade_middleware__,
    finalMiddleware
  ]);
}
__name(__facade_invoke__, "__facade_invoke__");

// .wrangler/tmp/bundle-tV2yge/middleware-loader.entry.ts
var __Facade_ScheduledController__ = class ___Facade_ScheduledController__ {
  constructor(scheduledTime, cron, noRetry) {
    this.scheduledTime = scheduledTime;
    this.cron = cron;
    this.#noRetry = noRetry;
  }
  static {
    __name(this, "__Facade_ScheduledController__");
  }
  #noRetry;
  noRetry() {
    if (!(this instanceof ___Facade_ScheduledController__)) {
      throw new TypeError("Illegal invocation");
    }
    this.#noRetry();
  }
};
function wrapExportedHandler(worker) {
  if (__INTERNAL_WRANGLER_MIDDLEWARE__ === void 0 || __INTERNAL_WRANGLER_MIDDLEWARE__.length === 0) {
    return worker;
  }
  for (const middleware of __INTERNAL_WRANGLER_MIDDLEWARE__) {
    __facade_register__(middleware);
  }
  const fetchDispatcher = /* @__PURE__ */ __name(function(request, env, ctx) {
    if (worker.fetch === void 0) {
      throw new Error("Handler does not export a fetch() function.");
    }
    return worker.fetch(request, env, ctx);
  }, "fetchDispatcher");
  return {
    ...worker,
    fetch(request, env, ctx) {
      const dispatcher = /* @__PURE__ */ __name(function(type, init) {
        if (type === "scheduled" && worker.scheduled !== void 0) {
          const controller = new __Facade_ScheduledController__(
            Date.now(),
            init.cron ?? "",
            () => {
            }
          );
          return worker.scheduled(controller, env, ctx);
        }
      }, "dispatcher");
      return __facade_invoke__(request, env, ctx, dispatcher, fetchDispatcher);
    }
  };
}
__name(wrapExportedHandler, "wrapExportedHandler");
function wrapWorkerEntrypoint(klass) {
  if (__INTERNAL_WRANGLER_MIDDLEWARE__ === void 0 || __INTERNAL_WRANGLER_MIDDLEWARE__.length === 0) {
    return klass;
  }
  for (const middleware of __INTERNAL_WRANGLER_MIDDLEWARE__) {
    __facade_register__(middleware);
  }
  return class extends klass {
    #fetchDispatcher = /* @__PURE__ */ __name((request, env, ctx) => {
      this.env = env;
      this.ctx = ctx;
      if (super.fetch === void 0) {
        throw new Error("Entrypoint class does not define a fetch() function.");
      }
      return super.fetch(request);
    }, "#fetchDispatcher");
    #dispatcher = /* @__PURE__ */ __name((type, init) => {
      if (type === "scheduled" && super.scheduled !== void 0) {
        const controller = new __Facade_ScheduledController__(
          Date.now(),
          init.cron ?? "",
          () => {
          }
        );
        return super.scheduled(controller);
      }
    }, "#dispatcher");
    fetch(request) {
      return __facade_invoke__(
        request,
        this.env,
        this.ctx,
        this.#dispatcher,
        this.#fetchDispatcher
      );
    }
  };
}
__name(wrapWorkerEntrypoint, "wrapWorkerEntrypoint");
var WRAPPED_ENTRY;
if (typeof middleware_insertion_facade_default === "object") {
  WRAPPED_ENTRY = wrapExportedHandler(middleware_insertion_facade_default);
} else if (typeof middleware_insertion_facade_default === "function") {
  WRAPPED_ENTRY = wrapWorkerEntrypoint(middleware_insertion_facade_default);
}
var middleware_loader_entry_default = WRAPPED_ENTRY;
export {
  BatchedObject,
  FloorObject,
  __INTERNAL_WRANGLER_MIDDLEWARE__,
  middleware_loader_entry_default as default
};
//# sourceMappingURL=worker.js.map
