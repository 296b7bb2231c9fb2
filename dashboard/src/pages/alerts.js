// A customer's alerts: thresholds on a metric's usage, the period's spend or the credit
// balance, each with the last time it fired (delivered as an `alert.triggered` webhook);
// add one, delete one.
import { api } from '../api.js';
import { confirmDialog } from '../dialog.js';
import { empty, h, money, table, when } from '../dom.js';
import { decimalInput, input, liveSection, opt, select, smallForm } from '../forms.js';

const KINDS = [
  ['usage', 'Usage of a metric reaches'],
  ['spend', 'The period’s spend reaches'],
  ['credit_balance', 'Available credit falls to'],
];

/** What an alert watches, in words. */
function watches(a, cur) {
  if (a.kind === 'usage') return h('span', null, h('span', { class: 'mono' }, a.metric_code), ` reaches ${a.threshold}`);
  if (a.kind === 'spend') return `spend reaches ${money(a.threshold, cur)}`;
  return `available credit falls to ${money(a.threshold, cur)}`;
}

/** `metrics`: the codes of the metrics the customer's items use (for the form's choice). */
export function alertsSection(c, metrics) {
  const path = `/v1/customers/${encodeURIComponent(c.id)}/alerts`;
  const cur = c.currency;
  return liveSection('Alerts', () => api(path, { query: { limit: 500 } }), (page, reload) => {
    const rows = page.data.map((a) => [
      a.name,
      h('code', null, a.kind),
      watches(a, cur),
      a.last_triggered_at
        ? h('span', null, h('time', { datetime: a.last_triggered_at, class: 'alert-fired' }, when(a.last_triggered_at)),
          a.last_value != null ? h('div', { class: 'muted small' }, `at ${a.kind === 'usage' ? a.last_value : money(a.last_value, cur)}`) : null)
        : h('span', { class: 'muted' }, 'never'),
      h('button', {
        type: 'button', class: 'btn btn-danger btn-small', 'aria-label': `Delete ${a.name}`,
        onclick: (ev) => remove(ev.currentTarget, a, path, reload),
      }, 'Delete…'),
    ]);
    const kind = select(KINDS, 'usage');
    const metricOptions = metrics.length ? metrics.map((m) => [m, m]) : [['', 'No usage items']];
    const form = smallForm({
      title: 'Add an alert',
      submitLabel: 'Add alert',
      fields: [
        { name: 'name', label: 'Name', input: input({ required: true, placeholder: '80% of the plan' }) },
        { name: 'kind', label: 'When', input: kind },
        { name: 'metric_code', label: 'Metric', input: select(metricOptions, metrics[0] ?? ''), when: () => kind.value === 'usage' },
        { name: 'threshold', label: 'Threshold', input: decimalInput({ required: true }), help: `A quantity for usage, an amount in ${cur} otherwise.` },
      ],
      submit: (v) => api(path, {
        method: 'POST',
        body: { name: opt(v.name) ?? '', kind: v.kind, metric_code: v.kind === 'usage' ? opt(v.metric_code) : undefined, threshold: opt(v.threshold) ?? '' },
      }),
      done: reload,
    });
    return h('div', null,
      rows.length
        ? table('Alerts', ['Alert', 'Kind', 'Fires when', 'Last fired', ''], rows, { className: 'alerts' })
        : empty('No alerts.'),
      h('p', { class: 'help' }, 'Usage and spend alerts fire once per period; a credit alert once each time the balance falls to its threshold. Each is sent as a signed alert.triggered webhook.'),
      form);
  }, { id: 'alerts' });
}

async function remove(button, a, path, reload) {
  const ok = await confirmDialog({
    title: `Delete the alert ${a.name}?`,
    body: h('p', null, 'It stops watching at once. This cannot be undone.'),
    confirm: 'Delete alert', danger: true,
  });
  if (!ok) return;
  button.disabled = true;
  try {
    await api(`${path}/${encodeURIComponent(a.id)}`, { method: 'DELETE' });
    reload();
  } catch (e) {
    button.disabled = false;
    button.replaceWith(h('span', { class: 'field-error', role: 'alert' }, `Not deleted: ${e.message}`));
  }
}
