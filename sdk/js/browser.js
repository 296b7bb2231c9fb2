// The client in a browser page: what is queued must not die with the page.
//
// - When the page is hidden (`visibilitychange` to `hidden`: a tab switch, a reload, a
//   navigation, closing the tab; and `pagehide`, which follows on unload), the queue is
//   sent at once with `fetch(…, { keepalive: true })`, which the browser finishes after
//   the page is gone. Chromium caps the bodies of a page's keepalive requests in flight at
//   64 KiB in all, so the client keeps its own under KEEPALIVE_BUDGET (a bit less, for
//   the page's other beacons) and leaves what does not fit in the queue, where the
//   ordinary path sends it if the page lives on.
// - With `persist`, the events not yet delivered (queued, and in requests whose answer
//   has not come) are also written to `localStorage` at those moments, and a client
//   created later on the same origin with `persist` loads them and sends them first. An
//   event both persisted and sent is counted once: the server dedupes by each event's
//   idempotency key (API.md, "Dedupe"). Nothing is written on `track()`, which stays a
//   check and a push; the price is that events tracked since the last hide are not saved
//   if the page dies without being hidden (a crash).
//
// Each client stores its snapshot under its own key (`<key>:<random id>`), so tabs of one
// origin never overwrite each other's; a new client claims every snapshot under `<key>:`
// (its own tab's from before a reload, and any that other tabs left behind).

import { EdgemeterError } from './errors.js';

/** Most bytes of keepalive request bodies this client has in flight (Chromium: 64 KiB for the page). */
export const KEEPALIVE_BUDGET = 60 * 1024;
/** The storage key's default prefix. */
const DEFAULT_KEY = 'edgemeter.queue';
const FORMAT = 1;

/**
 * Watches the page, if there is one, for the client whose internals `hooks` reach:
 * - `unsettled()`: the events not yet delivered or failed for good, oldest first, as
 *   strings of their wire JSON, comma-separated;
 * - `takeBatch(maxBytes)`: removes the oldest queued events whose request body fits in
 *   `maxBytes` (not those in a request) and returns them as a batch (its `body`, a
 *   Uint8Array), or null when none does;
 * - `queued()`: how many events are queued;
 * - `send(batch)`: the batch's keepalive request now, settled as any batch (returns a
 *   promise);
 * - `load(events)`: queues events from storage (wire JSON objects) and flushes;
 * - `flush()`, `report(error)`.
 *
 * Returns `{ save(), detach() }`, or null outside a browser page without `persist`.
 */
export function watchPage(options, hooks) {
  const store = persistence(options.persist, hooks.report);
  const win = globalThis;
  const doc = globalThis.document;
  const inPage = typeof win.addEventListener === 'function' && doc && typeof doc.addEventListener === 'function';
  if (!inPage && store === null) return null;

  if (store !== null) {
    const events = store.claim();
    if (events.length > 0) hooks.load(events);
  }
  /** Saves what is not delivered (shutdown() giving up), with `persist`. */
  const save = () => store?.save(hooks.unsettled());
  if (!inPage) return { save, detach() {} };

  let keepaliveBytes = 0;
  const hidden = () => {
    store?.save(hooks.unsettled());
    for (;;) {
      const batch = hooks.takeBatch(KEEPALIVE_BUDGET - keepaliveBytes);
      if (batch === null) break;
      const bytes = batch.body.length;
      keepaliveBytes += bytes;
      hooks.send(batch).finally(() => {
        keepaliveBytes -= bytes;
      });
    }
    // What did not fit is sent now, without keepalive: it gets through if the page
    // stays (a tab switch), and with `persist` it is stored in case the page goes.
    if (hooks.queued() > 0) hooks.flush();
  };
  const onVisibility = () => {
    if (doc.visibilityState === 'hidden') hidden();
    // Visible again: everything saved is still in memory, and will be saved again at
    // the next hide if it is still undelivered then.
    else store?.clear();
  };
  const onPageHide = () => hidden();
  const onPageShow = (e) => {
    if (e.persisted) store?.clear(); // back from the back/forward cache
  };
  doc.addEventListener('visibilitychange', onVisibility);
  win.addEventListener('pagehide', onPageHide);
  win.addEventListener('pageshow', onPageShow);
  return {
    save,
    detach() {
      doc.removeEventListener('visibilitychange', onVisibility);
      win.removeEventListener('pagehide', onPageHide);
      win.removeEventListener('pageshow', onPageShow);
    },
  };
}

/**
 * The `persist` option: `true` (localStorage, default key) or `{ key?, storage? }`, where
 * `storage` has localStorage's `getItem`, `setItem`, `removeItem`, `key(i)` and `length`.
 * Null when off.
 */
function persistence(persist, report) {
  if (persist === undefined || persist === false || persist === null) return null;
  const o = persist === true ? {} : persist;
  if (typeof o !== 'object') throw optionError('`true` or `{ key?, storage? }`');
  const prefix = o.key ?? DEFAULT_KEY;
  if (typeof prefix !== 'string' || prefix === '') throw optionError('`{ key }`: a non-empty string');
  let storage = o.storage;
  if (storage === undefined) {
    try {
      storage = globalThis.localStorage;
    } catch (e) {
      // Storage blocked (sandboxed frame, privacy settings): deliver without it.
      report(new EdgemeterError('storage_error', `localStorage is not available: ${e?.message ?? e}`, { cause: e }));
      return null;
    }
    if (storage === undefined || storage === null) throw optionError('used where there is localStorage, or with `{ storage }`');
  }
  for (const m of ['getItem', 'setItem', 'removeItem', 'key']) {
    if (typeof storage?.[m] !== 'function') throw optionError(`\`{ storage }\`: an object with localStorage's methods (${m} is missing)`);
  }
  return new Store(storage, prefix, report);
}

function optionError(what) {
  return new EdgemeterError('invalid_option', `option \`persist\` must be ${what}`, { field: 'persist' });
}

/** One client's snapshot in storage, and the claiming of snapshots left by earlier pages. */
class Store {
  constructor(storage, prefix, report) {
    this.storage = storage;
    this.prefix = `${prefix}:`;
    this.own = this.prefix + randomId();
    this.report = report;
  }

  /**
   * Saves the events (strings of their JSON, comma-separated), replacing this client's
   * earlier snapshot (or removes it when there are none).
   */
  save(parts) {
    parts = parts.filter((p) => p !== '');
    if (parts.length === 0) return this.clear();
    const text = `{"v":${FORMAT},"events":[${parts.join(',')}]}`;
    try {
      this.storage.setItem(this.own, text);
    } catch (e) {
      const keys = JSON.parse(text).events.map((x) => x.idempotency_key);
      this.report(
        new EdgemeterError('storage_error', `could not save ${keys.length} events: ${e?.message ?? e}`, {
          idempotencyKeys: keys,
          cause: e,
        }),
      );
    }
  }

  clear() {
    try {
      this.storage.removeItem(this.own);
    } catch {
      // Nothing to do: a stale snapshot is sent again later and counted once.
    }
  }

  /** Removes every snapshot under the prefix and returns their events (wire JSON objects), deduplicated by key. */
  claim() {
    const found = [];
    try {
      for (let i = 0; i < this.storage.length; i++) {
        const k = this.storage.key(i);
        if (k !== null && k.startsWith(this.prefix)) found.push(k);
      }
    } catch (e) {
      this.report(new EdgemeterError('storage_error', `could not read saved events: ${e?.message ?? e}`, { cause: e }));
      return [];
    }
    const out = [];
    const seen = new Set();
    for (const k of found) {
      let events;
      try {
        events = JSON.parse(this.storage.getItem(k) ?? 'null')?.events;
        this.storage.removeItem(k);
      } catch {
        events = null;
      }
      if (!Array.isArray(events)) continue;
      for (const event of events) {
        const key = event?.idempotency_key;
        if (typeof key !== 'string' || seen.has(key)) continue;
        seen.add(key);
        out.push(event);
      }
    }
    return out;
  }
}

/** A client's own suffix: only needs to differ from other tabs', so Math.random would do. */
function randomId() {
  const b = new Uint8Array(8);
  if (globalThis.crypto?.getRandomValues) globalThis.crypto.getRandomValues(b);
  else for (let i = 0; i < b.length; i++) b[i] = Math.floor(Math.random() * 256);
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}
