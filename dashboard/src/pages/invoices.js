// Invoices by status, newest period first within what is loaded.
import { api, customers } from '../api.js';
import { badge, day, h, link, money, pagedList, table } from '../dom.js';
import { statusFilter } from './contracts.js';

const STATUSES = ['draft', 'pending_approval', 'sent', 'void'];

export function invoiceList({ query }) {
  const status = query.get('status') || null;
  const results = pagedList({
    what: 'invoices',
    fetchPage: (cursor) => Promise.all([
      api('/v1/invoices', { query: { status, limit: 100, cursor } }),
      customers().catch(() => []),
    ]).then(([page, people]) => [page, new Map(people.map((c) => [c.id, c.name]))]),
    render: (rows, names) => table('Invoices', ['Number', 'Customer', 'Period', 'Status', 'Total', 'Amount due'], rows.map((inv) => [
      link(`#/invoices/${encodeURIComponent(inv.id)}`, inv.number ?? `Draft ${inv.id.slice(-6)}`),
      link(`#/customers/${encodeURIComponent(inv.customer_id)}`, names.get(inv.customer_id) ?? inv.customer_id),
      `${day(inv.period_start)} – ${day(inv.period_end)}`,
      badge(inv.status),
      money(inv.total, inv.currency),
      money(inv.amount_due, inv.currency)])),
    emptyText: status ? `No ${status.replace(/_/g, ' ')} invoices.` : 'No invoices yet. They appear when a period nears its end.',
  });
  return h('div', null,
    h('div', { class: 'page-head' }, h('h1', null, status ? `Invoices: ${status.replace(/_/g, ' ')}` : 'Invoices')),
    statusFilter('#/invoices', STATUSES, status),
    results);
}
