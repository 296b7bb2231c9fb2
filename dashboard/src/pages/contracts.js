// Contracts by status.
import { api } from '../api.js';
import { badge, day, empty, failure, fill, h, link, loading, table } from '../dom.js';

const STATUSES = ['draft', 'accepting', 'accepted', 'canceled', 'expired'];

export function statusFilter(base, statuses, current) {
  return h('nav', { class: 'filters', 'aria-label': 'Filter by status' },
    h('ul', null, ['', ...statuses].map((s) => h('li', null,
      h('a', { href: s ? `${base}?status=${s}` : base, 'aria-current': (current ?? '') === s ? 'true' : null, class: 'chip' },
        s ? s.replace(/_/g, ' ') : 'all')))));
}

export function contractList({ query }) {
  const status = query.get('status') || null;
  const results = h('div', null);
  let cursor = null;
  let rows = [];
  const more = h('button', { type: 'button', class: 'btn' }, 'Load more');
  const load = (append) => {
    if (!append) fill(results, loading('Loading contracts'));
    more.disabled = true;
    api('/v1/contracts', { query: { status, limit: 100, cursor: append ? cursor : null } }).then((page) => {
      rows = append ? [...rows, ...page.data] : page.data;
      cursor = page.next_cursor;
      more.disabled = false;
      // Newest first reads best; the API lists in creation order.
      const shown = [...rows].reverse();
      fill(results, rows.length
        ? [table('Contracts', ['Contract', 'Customer', 'Status', 'Items', 'Starts', 'Created'], shown.map((c) => [
          link(`#/contracts/${encodeURIComponent(c.id)}`, c.id, { class: 'mono' }),
          c.customer_id ? link(`#/customers/${encodeURIComponent(c.customer_id)}`, c.customer.name) : c.customer.name,
          badge(c.status), String(c.items.length), day(c.starts_at), day(c.created_at)])),
          cursor ? more : null]
        : empty(status ? `No ${status} contracts.` : 'No contracts yet.'));
    }, (e) => fill(results, failure(e, () => load(false))));
  };
  more.addEventListener('click', () => load(true));
  load(false);
  return h('div', null,
    h('div', { class: 'page-head' }, h('h1', null, status ? `Contracts: ${status}` : 'Contracts'),
      h('a', { class: 'btn btn-primary', href: '#/contracts/new' }, 'New contract')),
    statusFilter('#/contracts', STATUSES, status),
    results);
}
