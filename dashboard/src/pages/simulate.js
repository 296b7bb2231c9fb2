// "Try another price": a customer's items with their prices editable, priced by the server
// over a period's stored events (`POST /v1/customers/{id}/simulate`, which changes
// nothing), beside the invoice that period really has (or the upcoming one).
import { api } from '../api.js';
import { day, empty, failure, fill, h, loading, money, table } from '../dom.js';
import { describePrice } from '../format.js';
import { decimalInput, opt, select } from '../forms.js';
import { cmp, formatFixed, minorUnits, parse, sub } from '../money.js';

const MODELS = [['per_unit', 'Per unit'], ['package', 'Package'], ['graduated', 'Graduated tiers'], ['volume', 'Volume tiers']];

/** An invoice in brief: its lines' quantities and amounts, total, credits drawn, amount due. */
export function invoiceBrief(inv, caption) {
  const cur = inv.currency;
  const rows = inv.lines.map((l) => [l.name, h('span', { class: 'num' }, l.quantity), h('span', { class: 'num' }, money(l.amount, cur))]);
  return h('div', { class: 'invoice-brief' },
    rows.length ? table(caption, ['Line', 'Quantity', 'Amount'], rows) : empty('No lines.'),
    totals(inv));
}

/** Total, each credit drawn (named when `names` has its grant) and the amount due. */
export function totals(inv, names = new Map()) {
  const cur = inv.currency;
  const credits = inv.credits_applied ?? [];
  const drawn = credits.length
    ? h('dl', { class: 'totals-credits' }, credits.map((cr) => [
      h('dt', null, names.has(cr.grant_id) ? `Credit: ${names.get(cr.grant_id)} ` : 'Credit ', h('span', { class: 'mono small' }, cr.grant_id)),
      h('dd', null, `− ${money(cr.amount, cur)}`)]))
    : null;
  return h('div', { class: 'totals' },
    h('p', { class: 'total' }, 'Total ', h('strong', { class: 'invoice-brief-total' }, money(inv.total, cur))),
    drawn,
    inv.amount_due != null ? h('p', { class: 'total' }, 'Amount due ', h('strong', { class: 'amount-due' }, money(inv.amount_due, cur))) : null);
}

/** One item's price, editable; `value()` is the item spec to simulate with. */
function itemEditor(item, i, cur) {
  const p = item.price ?? {};
  const fixed = item.kind === 'fixed';
  const model = fixed ? null : select(MODELS, p.model);
  const fields = h('div', { class: 'price-fields' });
  const state = {
    unit_amount: p.unit_amount ?? '', package_size: p.package_size ?? '', package_amount: p.package_amount ?? '', amount: p.amount ?? '',
    tiers: (p.tiers ?? [{ up_to: '1000', unit_amount: p.unit_amount ?? '' }, { up_to: null, unit_amount: p.unit_amount ?? '' }])
      .map((t) => ({ up_to: t.up_to == null ? '' : String(t.up_to), unit_amount: t.unit_amount ?? '', flat_amount: t.flat_amount ?? '' })),
  };
  const id = (k) => `sim-${i}-${k}`;
  const labelled = (k, label, el) => {
    el.id = id(k);
    return h('div', { class: 'field' }, h('label', { for: el.id }, label), el);
  };
  const bind = (obj, k, props = {}) => {
    const el = decimalInput({ value: obj[k], ...props });
    el.addEventListener('input', () => { obj[k] = el.value; });
    return el;
  };
  const draw = () => {
    if (fixed) return fill(fields, labelled('amount', `Amount per period (${cur})`, bind(state, 'amount')));
    switch (model.value) {
      case 'per_unit': return fill(fields, labelled('unit_amount', `Unit amount (${cur})`, bind(state, 'unit_amount')));
      case 'package': return fill(fields, h('div', { class: 'row' },
        labelled('package_size', 'Package size (units)', bind(state, 'package_size', { inputmode: 'numeric' })),
        labelled('package_amount', `Package amount (${cur})`, bind(state, 'package_amount'))));
      default: return fill(fields, h('div', { class: 'sim-tiers' },
        state.tiers.map((t, j) => h('fieldset', { class: 'tier' }, h('legend', null, `Tier ${j + 1}`),
          labelled(`t${j}-up`, 'Up to', bind(t, 'up_to', { placeholder: 'and above' })),
          labelled(`t${j}-unit`, `Unit amount (${cur})`, bind(t, 'unit_amount')),
          labelled(`t${j}-flat`, 'Flat amount', bind(t, 'flat_amount', { placeholder: '0' })),
          h('button', { type: 'button', class: 'btn btn-quiet', disabled: state.tiers.length === 1, onclick: () => { state.tiers.splice(j, 1); draw(); } }, `Remove tier ${j + 1}`))),
        h('button', { type: 'button', class: 'btn', onclick: () => { state.tiers.splice(state.tiers.length - 1, 0, { up_to: '', unit_amount: '', flat_amount: '' }); draw(); } }, 'Add a tier')));
    }
  };
  model?.addEventListener('change', draw);
  draw();
  const whole = (v) => (/^\d{1,15}$/.test(String(v).trim()) ? Number(String(v).trim()) : opt(v));
  const price = () => {
    if (fixed) return { model: 'fixed', amount: opt(state.amount) };
    switch (model.value) {
      case 'per_unit': return { model: 'per_unit', unit_amount: opt(state.unit_amount) };
      case 'package': return { model: 'package', package_size: whole(state.package_size), package_amount: opt(state.package_amount) };
      default: return {
        model: model.value,
        tiers: state.tiers.map((t, j) => ({
          up_to: j === state.tiers.length - 1 && !opt(t.up_to) ? null : whole(t.up_to),
          unit_amount: opt(t.unit_amount), flat_amount: opt(t.flat_amount),
        })),
      };
    }
  };
  const el = h('fieldset', { class: 'sim-item' },
    h('legend', null, item.name),
    h('p', { class: 'help' }, `Now: ${describePrice(item.price, cur)}`),
    model ? labelled('model', 'Price model', model) : null,
    fields);
  return {
    el,
    value: () => ({
      name: item.name, kind: item.kind, metric_code: item.metric_code ?? undefined, price: price(),
      minimum: item.minimum ?? undefined,
    }),
  };
}

/**
 * The section. `items`: the customer's items; `invoices`: its invoices (their periods
 * can be simulated beside them); the current period is compared with its upcoming invoice.
 */
export function simulateSection(c, items, invoices) {
  const base = `/v1/customers/${encodeURIComponent(c.id)}`;
  const cur = c.currency;
  const out = h('div', { class: 'sim-result', 'aria-live': 'polite' });
  if (!items.length) {
    return h('section', { class: 'card', id: 'simulate', 'aria-labelledby': 'simulate-h' },
      h('h2', { id: 'simulate-h' }, 'Try another price'), empty('No items to price.'));
  }
  const periods = [['', 'This period (against the upcoming invoice)'],
    ...invoices.filter((inv) => inv.status !== 'void').map((inv) => [inv.period_start, `${day(inv.period_start)} – ${day(inv.period_end)} (${inv.number ?? 'draft'})`])];
  const period = select(periods, '');
  period.id = 'sim-period';
  const editors = items.map((it, i) => itemEditor(it, i, cur));
  const button = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Simulate');
  const form = h('form', { class: 'sim-form', novalidate: true, 'aria-label': 'Prices to try' },
    h('div', { class: 'field' }, h('label', { for: 'sim-period' }, 'Period'), period),
    h('div', { class: 'sim-items' }, editors.map((e) => e.el)),
    h('div', { class: 'actions' }, button));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    button.disabled = true;
    fill(out, loading('Pricing the period’s events'));
    const periodStart = period.value || undefined;
    const real = periodStart ? invoices.find((inv) => inv.period_start === periodStart) : null;
    try {
      const [sim, actual] = await Promise.all([
        api(`${base}/simulate`, { method: 'POST', body: { items: editors.map((e) => e.value()), period_start: periodStart } }),
        real ? api(`/v1/invoices/${encodeURIComponent(real.id)}`) : api(`${base}/invoices/upcoming`),
      ]);
      const diff = difference(actual.total, sim.total, cur);
      fill(out,
        h('p', { class: 'muted' }, `${day(sim.period_start)} to ${day(sim.period_end)}, from the events stored for it; nothing was changed.`),
        h('div', { class: 'compare' },
          h('div', { class: 'compare-col', id: 'sim-actual' }, h('h3', null, real ? `Real: ${real.number ?? 'draft'}` : 'Real: upcoming'), invoiceBrief(actual, 'The real invoice')),
          h('div', { class: 'compare-col', id: 'sim-simulated' }, h('h3', null, 'With these prices'), invoiceBrief(sim, 'The simulated invoice'))),
        diff ? h('p', { class: 'sim-diff' }, diff) : null);
    } catch (e) {
      fill(out, failure(e));
    } finally {
      button.disabled = false;
    }
  });
  return h('section', { class: 'card', id: 'simulate', 'aria-labelledby': 'simulate-h' },
    h('h2', { id: 'simulate-h' }, 'Try another price'),
    h('p', { class: 'help' }, 'Change any price and see what the period would have cost. The server prices the period’s stored events with the same code that invoices them.'),
    form, out);
}

/** How the simulated total differs from the real one, exactly (money.js, no floats). */
function difference(real, simulated, cur) {
  const [a, b] = [parse(real), parse(simulated)];
  if (!a || !b) return null;
  const c = cmp(b, a);
  if (c === 0) return 'The same total.';
  const by = formatFixed(c > 0 ? sub(b, a) : sub(a, b), minorUnits(cur));
  return `${c > 0 ? 'More' : 'Less'} than the real invoice by ${by} ${cur}.`;
}
