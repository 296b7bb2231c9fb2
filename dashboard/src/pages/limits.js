// A customer's limits and what they leave: per metric a bar of what the period used and
// what open reservations hold against its `max`, a form to set a limit (hard or soft) and
// a button to remove one; and the open reservations themselves.
import { api } from '../api.js';
import { confirmDialog } from '../dialog.js';
import { badge, empty, h, table, when } from '../dom.js';
import { decimalInput, liveSection, opt, select, smallForm } from '../forms.js';

/** Aggregations a limit may cap (API.md: else 400 `unsupported_aggregation`). */
const LIMITABLE = new Set(['sum', 'count', 'unique_count']);

/** A share of `max` as a percentage for drawing (numbers only here: exact values are shown as text). */
const share = (part, max) => {
  const m = Number(max);
  if (!(m > 0)) return Number(part) > 0 ? 100 : 0;
  return Math.max(0, Math.min(100, (Number(part) / m) * 100));
};

/** The usage bar of one entitlement: used, then reserved, out of `max`. */
export function usageBar(e) {
  if (e.max == null) {
    return h('div', { class: 'usage-bar-text muted' }, `${e.used} used, no limit`);
  }
  const used = share(e.used, e.max);
  const reserved = Math.min(100 - used, share(e.reserved, e.max));
  const over = Number(e.used) + Number(e.reserved) > Number(e.max);
  const text = `${e.used} used${e.reserved !== '0' ? ` + ${e.reserved} reserved` : ''} of ${e.max}; ${e.remaining} left`;
  return h('div', { class: 'usage-bar-wrap' },
    h('div', {
      class: `usage-bar${over ? ' over' : ''}${e.allowed ? '' : ' blocked'}`, role: 'img', 'aria-label': text,
      'data-metric': e.metric_code,
    },
    h('span', { class: 'used', style: `width: ${used.toFixed(2)}%` }),
    h('span', { class: 'reserved', style: `width: ${reserved.toFixed(2)}%` })),
    h('div', { class: 'usage-bar-text' }, text));
}

/**
 * Entitlements per metric with their limits. `metrics`: the customer's metrics as the
 * usage answer lists them (`code`, `aggregation`), for the form's choice.
 */
export function limitsSection(c, metrics, { onChange } = {}) {
  const base = `/v1/customers/${encodeURIComponent(c.id)}`;
  const limitable = metrics.filter((m) => LIMITABLE.has(m.aggregation));
  return liveSection('Limits and entitlements', () => api(`${base}/entitlements`), (ent, reload) => {
    const changed = () => { reload(); onChange?.(); };
    const rows = ent.data.map((e) => [
      h('span', { class: 'mono' }, e.metric_code),
      usageBar(e),
      e.max == null ? h('span', { class: 'muted' }, 'none') : badge(e.mode),
      e.allowed ? h('span', { class: 'ok' }, 'allowed') : h('strong', { class: 'blocked-text' }, 'blocked'),
      e.max == null ? '' : h('button', {
        type: 'button', class: 'btn btn-danger btn-small', 'aria-label': `Remove the limit on ${e.metric_code}`,
        onclick: (ev) => removeLimit(ev.currentTarget, base, e.metric_code, changed),
      }, 'Remove…'),
    ]);
    const options = limitable.length ? limitable.map((m) => [m.code, `${m.code} (${m.aggregation})`]) : [['', 'No sum, count or unique count metric']];
    const form = smallForm({
      title: 'Set a limit',
      submitLabel: 'Set limit',
      fields: [
        { name: 'metric_code', label: 'Metric', input: select(options, options[0][0]) },
        { name: 'max', label: 'Most per period', input: decimalInput({ required: true }) },
        { name: 'mode', label: 'Mode', input: select([['hard', 'Hard: refuse events past it'], ['soft', 'Soft: count them, show the overage']], 'hard') },
      ],
      submit: (v) => {
        if (!v.metric_code) return Promise.reject(Object.assign(new Error('Choose a metric.'), { field: 'metric_code' }));
        return api(`${base}/limits/${encodeURIComponent(v.metric_code)}`, { method: 'PUT', body: { max: opt(v.max) ?? '', mode: v.mode } });
      },
      done: changed,
    });
    return h('div', null,
      h('p', { class: 'muted' }, `This period: ${when(ent.period?.start)} to ${when(ent.period?.end)}`),
      rows.length
        ? table('Entitlements', ['Metric', 'Used of the limit', 'Limit', 'Now', ''], rows, { className: 'entitlements' })
        : empty('No metrics to limit.'),
      form);
  }, { id: 'limits' });
}

async function removeLimit(button, base, code, changed) {
  const ok = await confirmDialog({
    title: `Remove the limit on ${code}?`,
    body: h('p', null, 'Events and reservations for this metric are no longer capped.'),
    confirm: 'Remove limit', danger: true,
  });
  if (!ok) return;
  button.disabled = true;
  try {
    await api(`${base}/limits/${encodeURIComponent(code)}`, { method: 'DELETE' });
    changed();
  } catch (e) {
    button.disabled = false;
    button.replaceWith(h('span', { class: 'field-error', role: 'alert' }, `Not removed: ${e.message}`));
  }
}

/** The reservations still held (`?status=held`), each releasable. */
export function reservationsSection(c, { onChange } = {}) {
  const path = `/v1/customers/${encodeURIComponent(c.id)}/reservations`;
  return liveSection('Open reservations', () => api(path, { query: { status: 'held', limit: 500 } }), (page, reload) => {
    const rows = page.data.map((r) => [
      h('span', { class: 'mono small' }, r.id),
      h('span', { class: 'mono' }, r.metric_code),
      h('span', { class: 'num' }, r.quantity),
      when(r.expires_at),
      h('span', { class: 'mono small hash' }, r.idempotency_key),
      h('button', {
        type: 'button', class: 'btn btn-small', 'aria-label': `Release ${r.id}`,
        onclick: async (ev) => {
          const b = ev.currentTarget;
          b.disabled = true;
          try {
            await api(`${path}/${encodeURIComponent(r.id)}/release`, { method: 'POST', body: {} });
            reload();
            onChange?.();
          } catch (e) {
            b.disabled = false;
            b.replaceWith(h('span', { class: 'field-error', role: 'alert' }, `Not released: ${e.message}`));
          }
        },
      }, 'Release'),
    ]);
    return h('div', null,
      rows.length
        ? table('Open reservations', ['Reservation', 'Metric', 'Quantity', 'Expires', 'Idempotency key', ''], rows, { className: 'reservations' })
        : empty('No reservations held.'),
      h('div', { class: 'actions' }, h('button', { type: 'button', class: 'btn', onclick: reload }, 'Refresh')));
  }, { id: 'reservations' });
}
