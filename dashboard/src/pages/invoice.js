// One invoice: its period, lines (tier breakdown, usage per line and the digest of the
// events it counted), totals with the credits it drew and the amount due, the history of
// its states; approve or void it, each after a confirmation step.
import { api, customers } from '../api.js';
import { confirmDialog } from '../dialog.js';
import { badge, day, facts, failure, fill, h, link, loading, money, when } from '../dom.js';
import { add, formatFixed, minorUnits, parse, ZERO } from '../money.js';

export function invoicePage({ params: [id] }) {
  const root = h('div', null, h('h1', null, 'Invoice'), loading('Loading the invoice'));
  let message = null;
  // The grants' names, for the credits an invoice drew (ids alone when they cannot be read).
  let grantNames = new Map();
  const load = () => Promise.all([api(`/v1/invoices/${encodeURIComponent(id)}`), customers().catch(() => [])]).then(
    async ([inv, people]) => {
      if ((inv.credits_applied ?? []).length) {
        const grants = await api(`/v1/customers/${encodeURIComponent(inv.customer_id)}/credit_grants`).catch(() => ({ data: [] }));
        grantNames = new Map(grants.data.map((g) => [g.id, g.name]));
      }
      fill(root, view(inv, people.find((c) => c.id === inv.customer_id)));
    },
    (e) => fill(root, h('h1', null, 'Invoice'), failure(e, load)));

  function view(inv, customer) {
    const cur = inv.currency;
    const note = message;
    message = null;
    const status = h('div', { 'aria-live': 'polite' }, note ? h('p', { class: 'notice' }, note) : null);
    const actions = [];
    if (inv.status === 'pending_approval') {
      actions.push(h('button', { type: 'button', class: 'btn btn-primary', onclick: (ev) => act(ev.currentTarget, 'approve') }, 'Approve and send…'));
    }
    if (inv.status !== 'void') {
      actions.push(h('button', { type: 'button', class: 'btn btn-danger', onclick: (ev) => act(ev.currentTarget, 'void') }, 'Void…'));
    }

    async function act(button, action) {
      const who = customer ? `${customer.name} (${customer.email})` : inv.customer_id;
      const ok = await confirmDialog(action === 'approve'
        ? { title: `Approve ${inv.number ?? 'this invoice'}?`, body: h('p', null, `It is sent to ${who}: ${money(inv.total, cur)} for ${day(inv.period_start)} to ${day(inv.period_end)}.`), confirm: 'Approve and send' }
        : { title: `Void ${inv.number ?? 'this invoice'}?`, body: h('p', null, `${money(inv.total, cur)} for ${who} will not be billed. This cannot be undone.`), confirm: 'Void invoice', danger: true });
      if (!ok) return;
      button.disabled = true;
      fill(status, loading(action === 'approve' ? 'Approving' : 'Voiding'));
      try {
        const after = await api(`/v1/invoices/${encodeURIComponent(inv.id)}/${action}`, { method: 'POST' });
        message = action === 'approve' ? `Approved: ${after.number ?? ''} is ${after.status.replace(/_/g, ' ')}.` : 'Voided.';
        fill(root, view(after, customer));
        root.querySelector('h1')?.focus();
      } catch (e) {
        fill(status, failure(e));
        button.disabled = false;
      }
    }

    const history = [
      ['Created (draft)', inv.created_at],
      ['Finalized', inv.finalized_at],
      ['Sent', inv.sent_at],
    ];
    return h('div', null,
      h('div', { class: 'page-head' }, h('h1', { tabindex: '-1' }, inv.number ? `Invoice ${inv.number}` : 'Draft invoice'), badge(inv.status)),
      status,
      actions.length ? h('div', { class: 'actions' }, actions) : null,
      h('div', { class: 'grid' },
        h('section', { class: 'card', 'aria-labelledby': 'inv-facts' }, h('h2', { id: 'inv-facts' }, 'Summary'), facts([
          ['Customer', link(`#/customers/${encodeURIComponent(inv.customer_id)}`, customer ? customer.name : inv.customer_id)],
          ['Period', `${when(inv.period_start)} to ${when(inv.period_end)} (end excluded)`],
          ['Currency', cur],
          ['Subtotal', money(inv.subtotal, cur)],
          ['Total', h('strong', { class: 'invoice-total' }, money(inv.total, cur))],
          (inv.credits_applied ?? []).length ? ['Credits applied', money(creditsTotal(inv), cur)] : null,
          inv.amount_due != null ? ['Amount due', h('strong', { class: 'invoice-due' }, money(inv.amount_due, cur))] : null,
          ['Id', h('span', { class: 'mono' }, inv.id)],
          inv.usage_digest ? ['Usage digest', h('span', { class: 'mono hash small', title: 'SHA-256 over the lines’ event digests (docs/api.md)' }, inv.usage_digest)] : null,
        ])),
        h('section', { class: 'card', 'aria-labelledby': 'inv-history' }, h('h2', { id: 'inv-history' }, 'History'),
          h('ol', { class: 'history' }, history.map(([label, t]) => h('li', { class: t ? 'done' : 'todo' },
            h('span', null, label), ' ', h('time', { datetime: t ?? '' }, t ? when(t) : 'not yet'))),
          inv.status === 'void'
            ? h('li', { class: 'done' }, h('span', null, 'Voided'), ' ',
              inv.voided_at ? h('time', { datetime: inv.voided_at }, when(inv.voided_at)) : null)
            : null),
          h('p', null, 'Now: ', badge(inv.status)))),
      h('section', { class: 'card' }, h('h2', null, 'Lines'), lines(inv, grantNames)));
  }
  load();
  return root;
}

function lines(inv, grantNames) {
  const cur = inv.currency;
  if (!inv.lines.length) return h('p', { class: 'state empty' }, 'No lines.');
  return h('div', { class: 'table-wrap' }, h('table', { class: 'lines' },
    h('caption', { class: 'visually-hidden' }, 'Invoice lines'),
    h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Line'), h('th', { scope: 'col', class: 'num' }, 'Quantity'), h('th', { scope: 'col' }, 'Price'), h('th', { scope: 'col', class: 'num' }, 'Amount'))),
    h('tbody', null, inv.lines.map((l) => [
      h('tr', { class: 'line' },
        h('td', null, h('strong', null, l.name), h('div', { class: 'muted' }, `${l.kind}, ${l.model.replace(/_/g, ' ')}`),
          l.usage ? h('div', { class: 'muted usage' }, `${l.usage.event_count} event${l.usage.event_count === 1 ? '' : 's'} of ${l.usage.metric_code}`,
            l.usage.first_event_at ? `, ${when(l.usage.first_event_at)} to ${when(l.usage.last_event_at)}` : '') : null,
          l.usage?.events_digest ? h('div', { class: 'muted mono hash small digest' }, `events ${l.usage.events_digest}`) : null),
        h('td', { class: 'num' }, l.quantity),
        h('td', null, priceOf(l, cur)),
        h('td', { class: 'num' }, money(l.amount, cur),
          l.minimum_applied ? h('div', { class: 'muted' }, `minimum ${l.minimum}`) : null,
          l.subtotal_exact !== l.amount ? h('div', { class: 'muted' }, `exactly ${l.subtotal_exact}`) : null)),
      ...(l.tiers ?? []).map((t, i) => h('tr', { class: 'tier-row' },
        h('td', null, `Tier ${i + 1}: ${t.up_to == null ? 'and above' : `up to ${t.up_to}`}`),
        h('td', { class: 'num' }, t.units),
        h('td', null, `${t.unit_amount} each${t.flat_amount && !/^0(\.0*)?$/.test(t.flat_amount) ? ` + ${t.flat_amount} flat` : ''}`),
        h('td', { class: 'num' }, money(t.subtotal, cur)))),
    ])),
    h('tfoot', null,
      h('tr', null, h('th', { scope: 'row', colspan: 3 }, 'Subtotal'), h('td', { class: 'num' }, money(inv.subtotal, cur))),
      h('tr', null, h('th', { scope: 'row', colspan: 3 }, 'Total'), h('td', { class: 'num' }, h('strong', null, money(inv.total, cur)))),
      (inv.credits_applied ?? []).map((cr) => h('tr', { class: 'credit-row' },
        h('th', { scope: 'row', colspan: 3 }, `Credit: ${grantNames.get(cr.grant_id) ?? ''} `, h('span', { class: 'mono small' }, cr.grant_id)),
        h('td', { class: 'num' }, `− ${money(cr.amount, cur)}`))),
      inv.amount_due != null
        ? h('tr', { class: 'due-row' }, h('th', { scope: 'row', colspan: 3 }, 'Amount due'), h('td', { class: 'num' }, h('strong', null, money(inv.amount_due, cur))))
        : null)));
}

/** The credits an invoice drew, summed exactly. */
function creditsTotal(inv) {
  const places = minorUnits(inv.currency);
  return formatFixed((inv.credits_applied ?? []).reduce((sum, cr) => add(sum, parse(cr.amount) ?? ZERO), ZERO), places);
}

function priceOf(l, cur) {
  if (l.model === 'package') return `${l.packages} × ${l.unit_amount} ${cur} per ${l.package_size}`;
  if (l.model === 'graduated' || l.model === 'volume') return `${l.model}, ${(l.tiers ?? []).length} tiers used`;
  return l.unit_amount != null ? `${l.unit_amount} ${cur}${l.model === 'per_unit' ? ' each' : ''}` : '—';
}
