// A customer's money in real time: its live balance (credit left, what the open period
// would draw from it now, what is available) and its credit grants (add one, void one).
// Amounts are the API's exact decimal strings, shown as they are.
import { api } from '../api.js';
import { confirmDialog } from '../dialog.js';
import { badge, empty, facts, h, money, table, when } from '../dom.js';
import { decimalInput, input, liveSection, opt, smallForm, utc } from '../forms.js';

/** The live balance, `GET /v1/customers/{id}/balance`. */
export function balanceSection(c) {
  const path = `/v1/customers/${encodeURIComponent(c.id)}/balance`;
  return liveSection('Balance', () => api(path), (b, reload) => {
    const cur = b.currency ?? c.currency;
    return h('div', null,
      h('p', { class: 'balance-headline' },
        h('span', { class: 'muted' }, 'Available credit '),
        h('strong', { class: 'balance-available' }, money(b.credits.available, cur))),
      facts([
        ['Credit remaining', money(b.credits.remaining, cur)],
        ['Open periods would draw', money(b.credits.pending_draw, cur)],
        ['This period', `${when(b.period.start)} to ${when(b.period.end)}`],
        ['Period total so far', money(b.period_total, cur)],
        ['Due so far', h('span', { class: 'balance-due' }, money(b.amount_due_so_far, cur))],
        ['As of', b.as_of ? when(b.as_of) : '—'],
      ]),
      h('div', { class: 'actions' }, h('button', { type: 'button', class: 'btn', onclick: reload }, 'Refresh')));
  }, { id: 'balance' });
}

const CLOSED = new Set(['voided']);

/** The credit grants, with a form to add one and a void button on each that still pays. */
export function creditsSection(c, { onChange } = {}) {
  const path = `/v1/customers/${encodeURIComponent(c.id)}/credit_grants`;
  const cur = c.currency;
  const section = liveSection('Credit grants', () => api(path, { query: { limit: 500 } }), (page, reload) => {
    const changed = () => { reload(); onChange?.(); };
    const rows = page.data.map((g) => [
      h('span', null, g.name, h('div', { class: 'mono muted small' }, g.id)),
      h('span', { class: 'num' }, money(g.amount, cur)),
      h('strong', { class: 'num grant-remaining' }, money(g.remaining, cur)),
      String(g.priority),
      when(g.effective_at),
      g.expires_at ? when(g.expires_at) : 'never',
      h('span', null, badge(g.status), g.voided_at ? h('div', { class: 'muted small' }, `voided ${when(g.voided_at)}`) : null),
      CLOSED.has(g.status) ? '' : h('button', {
        type: 'button', class: 'btn btn-danger btn-small', 'aria-label': `Void ${g.name}`,
        onclick: (ev) => voidGrant(ev.currentTarget, g, changed),
      }, 'Void…'),
    ]);
    const form = smallForm({
      title: 'Add a credit grant',
      submitLabel: 'Add grant',
      fields: [
        { name: 'amount', label: `Amount (${cur})`, input: decimalInput({ required: true }) },
        { name: 'name', label: 'Name', input: input({ required: true, placeholder: 'Prepaid credit' }) },
        { name: 'priority', label: 'Priority', input: decimalInput({ inputmode: 'numeric', placeholder: '100' }), help: 'Lower pays first.' },
        { name: 'effective_at', label: 'Effective (UTC, optional)', input: input({ type: 'datetime-local' }), help: 'Default: now.' },
        { name: 'expires_at', label: 'Expires (UTC, optional)', input: input({ type: 'datetime-local' }), help: 'Default: never.' },
      ],
      submit: (v) => api(path, {
        method: 'POST',
        body: {
          amount: opt(v.amount) ?? '', name: opt(v.name) ?? '',
          priority: opt(v.priority) === undefined ? undefined : (/^\d{1,9}$/.test(v.priority.trim()) ? Number(v.priority.trim()) : v.priority.trim()),
          effective_at: utc(opt(v.effective_at)), expires_at: utc(opt(v.expires_at)),
        },
      }),
      done: changed,
    });
    return h('div', null,
      rows.length
        ? table('Credit grants', ['Grant', 'Amount', 'Remaining', 'Priority', 'Effective', 'Expires', 'Status', ''], rows, { className: 'grants' })
        : empty('No credit grants: invoices are paid in full.'),
      form);
  }, { id: 'credits' });
  return section;
}

async function voidGrant(button, g, changed) {
  const ok = await confirmDialog({
    title: `Void ${g.name}?`,
    body: h('p', null, `It pays nothing more from now on (${g.remaining} of ${g.amount} left). What it paid stays paid. This cannot be undone.`),
    confirm: 'Void grant', danger: true,
  });
  if (!ok) return;
  button.disabled = true;
  try {
    await api(`/v1/customers/${encodeURIComponent(g.customer_id)}/credit_grants/${encodeURIComponent(g.id)}/void`, { method: 'POST', body: {} });
    changed();
  } catch (e) {
    button.disabled = false;
    button.replaceWith(h('span', { class: 'field-error', role: 'alert' }, `Not voided: ${e.message}`));
  }
}
