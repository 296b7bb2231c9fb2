// Contracts by status.
import { api } from '../api.js';
import { badge, day, h, link, pagedList, table } from '../dom.js';

const STATUSES = ['draft', 'accepting', 'accepted', 'canceled', 'expired'];

export function statusFilter(base, statuses, current) {
  return h('nav', { class: 'filters', 'aria-label': 'Filter by status' },
    h('ul', null, ['', ...statuses].map((s) => h('li', null,
      h('a', { href: s ? `${base}?status=${s}` : base, 'aria-current': (current ?? '') === s ? 'true' : null, class: 'chip' },
        s ? s.replace(/_/g, ' ') : 'all')))));
}

export function contractList({ query }) {
  const status = query.get('status') || null;
  const results = pagedList({
    what: 'contracts',
    fetchPage: (cursor) => api('/v1/contracts', { query: { status, limit: 100, cursor } }).then((page) => [page]),
    // Newest first reads best; the API lists in creation order.
    render: (rows) => table('Contracts', ['Contract', 'Customer', 'Status', 'Items', 'Starts', 'Created'],
      [...rows].reverse().map((c) => [
        link(`#/contracts/${encodeURIComponent(c.id)}`, c.id, { class: 'mono' }),
        c.customer_id ? link(`#/customers/${encodeURIComponent(c.customer_id)}`, c.customer.name) : c.customer.name,
        badge(c.status), String(c.items.length), day(c.starts_at), day(c.created_at)])),
    emptyText: status ? `No ${status} contracts.` : 'No contracts yet.',
  });
  return h('div', null,
    h('div', { class: 'page-head' }, h('h1', null, status ? `Contracts: ${status}` : 'Contracts'),
      h('a', { class: 'btn btn-primary', href: '#/contracts/new' }, 'New contract')),
    statusFilter('#/contracts', STATUSES, status),
    results);
}
