// Invoices by status, newest period first within what is loaded.
import { api, customers } from '../api.js';
import { badge, day, empty, failure, fill, h, link, loading, money, table } from '../dom.js';
import { statusFilter } from './contracts.js';

const STATUSES = ['draft', 'pending_approval', 'sent', 'void'];

export function invoiceList({ query }) {
  const status = query.get('status') || null;
  const results = h('div', null);
  let cursor = null;
  let rows = [];
  const more = h('button', { type: 'button', class: 'btn' }, 'Load more');
  const load = (append) => {
    if (!append) fill(results, loading('Loading invoices'));
    more.disabled = true;
    Promise.all([
      api('/v1/invoices', { query: { status, limit: 100, cursor: append ? cursor : null } }),
      customers().catch(() => []),
    ]).then(([page, people]) => {
      const names = new Map(people.map((c) => [c.id, c.name]));
      rows = append ? [...rows, ...page.data] : page.data;
      cursor = page.next_cursor;
      more.disabled = false;
      fill(results, rows.length
        ? [table('Invoices', ['Number', 'Customer', 'Period', 'Status', 'Total'], rows.map((inv) => [
          link(`#/invoices/${encodeURIComponent(inv.id)}`, inv.number ?? `Draft ${inv.id.slice(-6)}`),
          link(`#/customers/${encodeURIComponent(inv.customer_id)}`, names.get(inv.customer_id) ?? inv.customer_id),
          `${day(inv.period_start)} – ${day(inv.period_end)}`,
          badge(inv.status),
          money(inv.total, inv.currency)])),
        cursor ? more : null]
        : empty(status ? `No ${status.replace(/_/g, ' ')} invoices.` : 'No invoices yet. They appear when a period nears its end.'));
    }, (e) => fill(results, failure(e, () => load(false))));
  };
  more.addEventListener('click', () => load(true));
  load(false);
  return h('div', null,
    h('div', { class: 'page-head' }, h('h1', null, status ? `Invoices: ${status.replace(/_/g, ' ')}` : 'Invoices')),
    statusFilter('#/invoices', STATUSES, status),
    results);
}
