// A small hyperscript helper over the DOM, and the loading / empty / error states every
// page shares. Text always goes in as text nodes, never as HTML, so data from the API
// cannot become markup.

/**
 * `h('a', { href: '#/x', class: 'btn', onclick: fn }, 'text', child, [more])`: an element
 * with attributes (`on…` functions become listeners, `true`/`false` toggle boolean
 * attributes, `null`/`undefined` are skipped) and children (strings, nodes, arrays, or
 * `null`/`false`, skipped).
 */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props ?? {})) {
    if (v == null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'value') el.value = v;
    else if (k === 'checked') el.checked = !!v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c == null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replaces an element's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A loading state, announced politely to screen readers. */
export const loading = (what = 'Loading') => h('p', { class: 'state loading', role: 'status' }, `${what}…`);

/** An empty state. */
export const empty = (text) => h('p', { class: 'state empty' }, text);

/** An error state with the API's code, and a retry button when `retry` is given. */
export function failure(err, retry) {
  return h('div', { class: 'state error', role: 'alert' },
    h('p', null, h('strong', null, 'Could not load this. '), err?.message ?? String(err),
      err?.code ? h('code', { class: 'code' }, err.code) : null),
    retry ? h('button', { type: 'button', class: 'btn', onclick: retry }, 'Try again') : null);
}

/**
 * A section whose content comes from `load()`: loading, then `render(data)` (or the
 * error with a retry). The section is returned at once; it fills itself in.
 */
export function section(title, load, render, { id } = {}) {
  const body = h('div', { class: 'section-body' });
  const el = h('section', { class: 'card', id, 'aria-labelledby': id ? `${id}-h` : null },
    h('h2', { id: id ? `${id}-h` : null }, title), body);
  const run = () => {
    fill(body, loading());
    Promise.resolve().then(load).then(
      (data) => fill(body, render(data)),
      (err) => fill(body, failure(err, run)),
    );
  };
  run();
  return el;
}

/** A table with a header row; `rows` are arrays of cells (strings or nodes). */
// A list read from the API page by page, with "Load more" while there is a next page.
// `fetchPage(cursor)` resolves to `[page, context]`; `render(rows, context)` draws every
// row loaded so far; `emptyText` stands in for none.
export function pagedList({ what, fetchPage, render, emptyText }) {
  const results = h('div', null);
  let cursor = null;
  let rows = [];
  const more = h('button', { type: 'button', class: 'btn' }, 'Load more');
  const load = (append) => {
    if (!append) fill(results, loading(`Loading ${what}`));
    more.disabled = true;
    fetchPage(append ? cursor : null).then(([page, context]) => {
      rows = append ? [...rows, ...page.data] : page.data;
      cursor = page.next_cursor;
      more.disabled = false;
      fill(results, rows.length ? [render(rows, context), cursor ? more : null] : empty(emptyText));
    }, (e) => fill(results, failure(e, () => load(false))));
  };
  more.addEventListener('click', () => load(true));
  load(false);
  return results;
}

// Each cell carries its column's name (`data-label`), so that at a phone's width a row can
// be drawn as a small labelled card (style.css) instead of scrolling sideways.
export function table(caption, headers, rows, { className } = {}) {
  return h('div', { class: 'table-wrap' },
    h('table', { class: className },
      caption ? h('caption', { class: 'visually-hidden' }, caption) : null,
      h('thead', null, h('tr', null, headers.map((x) => h('th', { scope: 'col' }, x)))),
      h('tbody', null, rows.map((r) => h('tr', null, r.map((c, i) => h('td', { 'data-label': typeof headers[i] === 'string' && headers[i] ? headers[i] : null }, c)))))));
}

/** A definition list of label/value pairs (values may be nodes). */
export function facts(pairs) {
  return h('dl', { class: 'facts' }, pairs.filter(Boolean).map(([k, v]) => [h('dt', null, k), h('dd', null, v ?? '—')]));
}

/** `2026-12-01T10:00:00Z` → `2026-12-01 10:00 UTC` (billing happens in UTC). */
export function when(t) {
  if (!t) return '—';
  const m = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d)(:\d\d)?/.exec(t);
  return m ? `${m[1]} ${m[2]} UTC` : t;
}

/** A date only, from an RFC 3339 time. */
export const day = (t) => (t ? String(t).slice(0, 10) : '—');

/** An amount with its currency: amounts are the API's decimal strings, shown as they are. */
export const money = (amount, currency) => (amount == null ? '—' : `${amount} ${currency ?? ''}`.trim());

/** A status badge. */
export const badge = (status) => h('span', { class: `badge badge-${status}` }, String(status).replace(/_/g, ' '));

/** A link inside the app. */
export const link = (href, text, props = {}) => h('a', { href, ...props }, text);
