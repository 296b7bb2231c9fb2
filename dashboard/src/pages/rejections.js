// Rejected events: the account's log (events naming no known customer, or another
// customer than their token's) and, per customer, on its page. A rejected event is
// revenue nobody sees missing, so each shows its code, the field at fault and the event.
import { api } from '../api.js';
import { empty, h, link, section, table, when } from '../dom.js';

/** The customer an event named: a link when it exists (not for `unknown_customer`). */
function customerCell(r) {
  if (!r.customer_id) return '—';
  if (r.code === 'unknown_customer') return h('span', { class: 'mono' }, r.customer_id);
  return link(`#/customers/${encodeURIComponent(r.customer_id)}`, r.customer_id, { class: 'mono' });
}

export function rejectionTable(rows, { customer = true } = {}) {
  const headers = ['Received', 'Code', 'Field', 'Event name', ...(customer ? ['Customer'] : []), 'Event'];
  return table('Rejected events', headers, rows.map((r) => [
    when(r.received_at),
    h('code', { class: 'code' }, r.code),
    r.field ? h('code', null, r.field) : '—',
    r.event_name ?? '—',
    ...(customer ? [customerCell(r)] : []),
    h('details', { class: 'event' },
      h('summary', null, r.message || 'The event'),
      r.idempotency_key ? h('p', { class: 'mono' }, `idempotency_key ${r.idempotency_key}`) : null,
      h('pre', null, JSON.stringify(r.event, null, 2))),
  ]), { className: 'rejections' });
}

export function rejectionsPage() {
  return h('div', null,
    h('div', { class: 'page-head' }, h('h1', null, 'Rejected events')),
    h('p', { class: 'muted' }, 'The most recent events the API refused for the account: events naming no existing customer, or another customer than their token allows. Each customer’s own rejected events are on its page.'),
    section('Account log', () => api('/v1/rejections', { query: { limit: 100 } }), (page) => page.data.length
      ? rejectionTable(page.data)
      : empty('No rejected events.'), { id: 'account-rejections' }));
}
