// One customer: its contract and document, items, this period's usage with a chart by
// day, its live balance and credit grants, alerts, limits with what they leave, open
// reservations, the upcoming invoice and "try another price", its invoices and its most
// recent rejected events.
import { api } from '../api.js';
import { usageChart } from '../chart.js';
import { badge, day, empty, facts, failure, fill, h, link, loading, money, section, table, when } from '../dom.js';
import { priceView } from '../format.js';
import { liveSection } from '../forms.js';
import { alertsSection } from './alerts.js';
import { balanceSection, creditsSection } from './credits.js';
import { documentView } from './document.js';
import { limitsSection, reservationsSection } from './limits.js';
import { rejectionTable } from './rejections.js';
import { simulateSection, totals } from './simulate.js';

export function customerPage({ params: [id] }) {
  const path = `/v1/customers/${encodeURIComponent(id)}`;
  const head = h('div', { class: 'page-head' }, h('h1', null, 'Customer'));
  const summary = h('div', null, loading('Loading the customer'));
  const rest = h('div', { class: 'grid' });

  const load = () => {
    fill(summary, loading('Loading the customer'));
    api(path).then((c) => {
      fill(head, h('h1', null, c.name), h('span', { class: 'mono muted' }, c.id));
      fill(summary, h('section', { class: 'card', 'aria-label': 'Details' }, facts([
        ['Email', c.email],
        ['External id', c.external_id ?? '—'],
        ['Currency', c.currency],
        ['Invoices', `every ${c.invoice_schedule.interval} from ${c.invoice_schedule.anchor}; draft ${c.invoice_schedule.pre_generate_days} days before the end, final ${c.invoice_schedule.grace_hours} hours after`],
        ['Sending', c.auto_send ? 'automatic' : 'held for approval'],
        ['Created', when(c.created_at)],
      ])));
      // What the money and limit panels share, read once: the items, the metrics they use, the invoices.
      const items = api('/v1/items', { query: { customer_id: c.id } });
      const metrics = api(`${path}/usage`).then((u) => u.metrics, () => []);
      const invoices = api('/v1/invoices', { query: { customer_id: c.id } });
      const balance = balanceSection(c);
      // The grants' names, for the credits the upcoming invoice would draw.
      const grantNames = () => api(`${path}/credit_grants`, { query: { limit: 500 } })
        .then((page) => new Map(page.data.map((g) => [g.id, g.name])), () => new Map());
      const upcoming = liveSection('Upcoming invoice', () => Promise.all([api(`${path}/invoices/upcoming`), grantNames()]), ([inv, names]) => h('div', null,
        h('p', { class: 'muted' }, `Period ${day(inv.period_start)} to ${day(inv.period_end)}, from the usage recorded so far`),
        inv.lines.length ? table('Upcoming invoice', ['Line', 'Quantity', 'Amount'], inv.lines.map((l) => [l.name, l.quantity, money(l.amount, inv.currency)])) : empty('No lines.'),
        totals(inv, names)), { id: 'upcoming' });
      const moneyChanged = () => { balance.reload(); upcoming.reload(); };
      let entitlements = null;
      const limits = later(metrics, (m) => { entitlements = limitsSection(c, m); return entitlements.el; });
      fill(rest,
        contractSection(c),
        section('Items', () => items, (page) => page.data.length
          ? table('Items', ['Item', 'Kind', 'Metric', 'Price', 'Minimum'], page.data.map((it) => [
            it.name, it.kind, it.metric_code ? h('span', { class: 'mono' }, it.metric_code) : '—',
            priceView(it.price, c.currency), it.minimum ? money(it.minimum, c.currency) : '—']))
          : empty('No items: nothing is billed.'), { id: 'items' }),
        usageSection(c),
        balance.el,
        upcoming.el,
        creditsSection(c, { onChange: moneyChanged }).el,
        limits,
        reservationsSection(c, { onChange: () => entitlements?.reload() }).el,
        later(metrics, (m) => alertsSection(c, m.map((x) => x.code)).el),
        section('Invoices', () => invoices, (page) => page.data.length
          ? table('Invoices', ['Number', 'Period', 'Status', 'Total', 'Amount due'], page.data.map((inv) => [
            link(`#/invoices/${encodeURIComponent(inv.id)}`, inv.number ?? 'Draft'),
            `${day(inv.period_start)} – ${day(inv.period_end)}`, badge(inv.status), money(inv.total, inv.currency), money(inv.amount_due, inv.currency)]))
          : empty('No invoices yet.'), { id: 'invoices' }),
        later(Promise.all([items, invoices]), ([it, inv]) => simulateSection(c, it.data, inv.data)),
        section('Recent rejected events', () => api(`${path}/rejections`, { query: { limit: 20 } }), (page) => page.data.length
          ? rejectionTable(page.data, { customer: false })
          : empty('No rejected events. Every event sent for this customer was accepted.'), { id: 'rejections' }));
    }, (e) => {
      fill(head, h('h1', null, 'Customer'));
      fill(summary, failure(e, load));
    });
  };
  load();
  return h('div', null, head, summary, rest);
}

/** A placeholder that becomes `build(data)` once `promise` resolves (or shows its error). */
function later(promise, build) {
  const slot = h('div', { class: 'card' }, loading());
  promise.then((data) => slot.replaceWith(build(data)), (e) => fill(slot, failure(e)));
  return slot;
}

function contractSection(c) {
  if (!c.contract_id) {
    return h('section', { class: 'card', id: 'contract' }, h('h2', null, 'Contract'),
      empty('This customer was created through the API, without a contract.'));
  }
  return section('Contract', () => api(`/v1/contracts/${encodeURIComponent(c.contract_id)}`), (ct) => h('div', null,
    facts([
      ['Contract', link(`#/contracts/${encodeURIComponent(ct.id)}`, ct.id, { class: 'mono' })],
      ['Status', badge(ct.status)],
      ['Starts', when(ct.starts_at)],
      ['Expires', ct.expires_at ? when(ct.expires_at) : 'never'],
      ['Accepted', when(ct.accepted_at)],
    ]),
    documentView(ct)), { id: 'contract' });
}

function usageSection(c) {
  const path = `/v1/customers/${encodeURIComponent(c.id)}`;
  return section('Usage this period', () => Promise.all([api(`${path}/usage`), api(`${path}/usage/daily`).catch((error) => ({ error }))]), ([usage, daily]) => {
    const parts = [h('p', { class: 'muted' }, `${day(usage.period.start)} to ${day(usage.period.end)} (UTC, end excluded)`)];
    parts.push(usage.metrics.length
      ? table('Usage per metric', ['Metric', 'Event name', 'Aggregation', 'Quantity', 'Events'], usage.metrics.map((m) => [
        h('span', { class: 'mono' }, m.code), h('span', { class: 'mono' }, m.event_name), m.aggregation,
        h('strong', { class: 'quantity', 'data-metric': m.code }, m.quantity), String(m.event_count)]))
      : empty('No usage-based items, so no metrics to show.'));
    if (daily.error) parts.push(h('h3', null, 'By day'), failure(daily.error));
    // One chart per metric: metrics count different things, so they get their own scales.
    else if (daily.metrics.length) {
      parts.push(h('h3', null, 'By day (UTC)'), h('div', { class: 'charts' }, daily.metrics.map((m) =>
        h('figure', { class: 'metric-chart' }, h('figcaption', null, h('span', { class: 'mono' }, m.code), ` (${m.aggregation} of “${m.event_name}”)`), usageChart([m])))));
    }
    return h('div', null, parts);
  }, { id: 'usage' });
}
