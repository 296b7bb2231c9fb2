// How prices and invoice lines read in the dashboard.
import { h } from './dom.js';

/** A price as one line of text: `0.05 per unit`, `5.00 per 100`, `graduated: …`. */
export function describePrice(price, currency = '') {
  const c = currency ? ` ${currency}` : '';
  switch (price?.model) {
    case 'per_unit': return `${price.unit_amount}${c} per unit`;
    case 'package': return `${price.package_amount}${c} per ${price.package_size} units (packages rounded up)`;
    case 'fixed': return `${price.amount}${c} per period`;
    case 'graduated':
    case 'volume': return `${price.model}: ${tierText(price.tiers, c)}`;
    default: return price?.model ?? '—';
  }
}

function tierText(tiers = [], c) {
  let from = '0';
  return tiers.map((t) => {
    const range = t.up_to == null ? `above ${from}` : `${from}–${t.up_to}`;
    from = t.up_to ?? from;
    const flat = t.flat_amount && !/^0(\.0*)?$/.test(t.flat_amount) ? ` + ${t.flat_amount}${c} flat` : '';
    return `${range} at ${t.unit_amount}${c}${flat}`;
  }).join('; ');
}

/** A price as a small tier table for the items list (plain text for the other models). */
export function priceView(price, currency) {
  if (price?.model !== 'graduated' && price?.model !== 'volume') return describePrice(price, currency);
  let from = '0';
  return h('div', null, h('span', { class: 'model' }, price.model),
    h('ul', { class: 'tiers' }, price.tiers.map((t) => {
      const range = t.up_to == null ? `${from} and above` : `${from} to ${t.up_to}`;
      from = t.up_to ?? from;
      const flat = t.flat_amount && !/^0(\.0*)?$/.test(t.flat_amount) ? ` + ${t.flat_amount} flat` : '';
      return h('li', null, `${range}: ${t.unit_amount} ${currency ?? ''} each${flat}`);
    })));
}
