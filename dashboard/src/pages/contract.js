// A contract: the form that creates or edits a draft (customer, line items in any price
// model with a worked example per item, schedule, dates, the signed document), accept and
// cancel; a contract that is no longer a draft reads as a record.
//
// Validation is the server's: the form sends what was typed, and the `invalid_contract`
// error's `errors[].field` paths (`items[0].price.tiers[1].unit_amount`) are shown next
// to the fields they name (or the nearest group that holds them).
import { api, forgetCustomers, listAll } from '../api.js';
import { confirmDialog } from '../dialog.js';
import { badge, facts, failure, fill, h, link, loading, table, when } from '../dom.js';
import { priceView } from '../format.js';
import { cmp, parse, priceExample } from '../money.js';
import { documentView, size } from './document.js';

const MODELS = [['per_unit', 'Per unit'], ['package', 'Package'], ['graduated', 'Graduated tiers'], ['volume', 'Volume tiers'], ['fixed', 'Fixed fee']];
const INTERVALS = ['week', 'month', 'quarter', 'year'];
const MAX_DOCUMENT = 10 * 1024 * 1024;

/** A message for the next contract page shown (after a create, say). */
let flash = null;

export function newContractPage({ go }) {
  return formPage({ contract: null, go });
}

export function contractPage({ params: [id], go }) {
  const root = h('div', null, h('h1', null, 'Contract'), loading('Loading the contract'));
  const load = () => api(`/v1/contracts/${encodeURIComponent(id)}`).then(
    (contract) => fill(root, contract.status === 'draft' ? formPage({ contract, go }) : record(contract, go)),
    (e) => fill(root, h('h1', null, 'Contract'), failure(e, load)));
  load();
  return root;
}

// --- A contract that is no longer a draft. ---

function record(ct, go) {
  const note = flash;
  flash = null;
  // An acceptance that began and did not finish: accepting again completes it, exactly once.
  let resume = null;
  if (ct.status === 'accepting') {
    const status = h('span', { role: 'status' });
    const button = h('button', { type: 'button', class: 'btn btn-primary' }, 'Complete the acceptance');
    button.addEventListener('click', async () => {
      button.disabled = true;
      status.textContent = 'Accepting…';
      try {
        const { customer } = await api(`/v1/contracts/${encodeURIComponent(ct.id)}/accept`, { method: 'POST', body: {} });
        forgetCustomers();
        go(`/customers/${encodeURIComponent(customer.id)}`);
      } catch (e) {
        status.textContent = `Could not accept: ${e.message}`;
        button.disabled = false;
      }
    });
    resume = h('div', { class: 'actions' }, h('p', null, 'Its acceptance began and did not finish.'), button, status);
  }
  const cur = ct.customer.currency;
  const s = ct.invoice_schedule;
  return h('div', null,
    h('div', { class: 'page-head' }, h('h1', null, `Contract for ${ct.customer.name}`), badge(ct.status)),
    note ? h('p', { class: 'notice', role: 'status' }, note) : null,
    resume,
    h('section', { class: 'card' }, facts([
      ['Contract', h('span', { class: 'mono' }, ct.id)],
      ['Customer', ct.customer_id ? link(`#/customers/${encodeURIComponent(ct.customer_id)}`, `${ct.customer.name} (${ct.customer_id})`) : ct.customer.name],
      ['Email', ct.customer.email],
      ['External id', ct.customer.external_id ?? '—'],
      ['Currency', cur],
      ['Invoices', s ? `every ${s.interval} from ${s.anchor}; draft ${s.pre_generate_days} days before, final ${s.grace_hours} hours after` : '—'],
      ['Sending', ct.auto_send ? 'automatic' : 'held for approval'],
      ['Starts', when(ct.starts_at)],
      ['Expires', ct.expires_at ? when(ct.expires_at) : 'never'],
      ['Created', when(ct.created_at)],
      ['Accepted', when(ct.accepted_at)],
      ['Canceled', when(ct.canceled_at)],
    ])),
    h('section', { class: 'card' }, h('h2', null, 'Line items'),
      table('Line items', ['Item', 'Kind', 'Metric', 'Price', 'Minimum'], ct.items.map((it) => [
        it.name, it.kind, it.metric_code ?? '—', priceView(it.price, cur), it.minimum ?? '—']))),
    h('section', { class: 'card' }, documentView(ct)));
}

// --- The form. ---

const blankTier = () => ({ up_to: '', unit_amount: '', flat_amount: '' });
const blankItem = (kind = 'usage') => ({
  name: '', kind, metric_code: '', model: kind === 'fixed' ? 'fixed' : 'per_unit', unit_amount: '',
  package_size: '', package_amount: '', amount: '', tiers: [blankTier(), blankTier()], minimum: '', example: '1000',
});
const text = (v) => (v == null ? '' : String(v));
/** `2026-12-01T00:00:00Z` → `2026-12-01T00:00` for a datetime-local input (read as UTC). */
const localInput = (t) => (t ? String(t).slice(0, 16) : '');

export function stateFrom(ct) {
  if (!ct) {
    return {
      customer: { name: '', email: '', external_id: '', currency: 'USD' },
      items: [blankItem()],
      schedule: { interval: 'month', anchor: '', pre_generate_days: '3', grace_hours: '24' },
      auto_send: false, starts_at: '', expires_at: '',
    };
  }
  return {
    customer: { name: text(ct.customer.name), email: text(ct.customer.email), external_id: text(ct.customer.external_id), currency: text(ct.customer.currency) },
    items: ct.items.map((it) => {
      const p = it.price ?? {};
      return {
        ...blankItem(it.kind), name: text(it.name), metric_code: text(it.metric_code), model: p.model ?? 'per_unit',
        unit_amount: text(p.unit_amount), package_size: text(p.package_size), package_amount: text(p.package_amount),
        amount: text(p.amount), minimum: text(it.minimum),
        tiers: p.tiers ? p.tiers.map((t) => ({ up_to: text(t.up_to), unit_amount: text(t.unit_amount), flat_amount: text(t.flat_amount) })) : [blankTier(), blankTier()],
      };
    }),
    schedule: ct.invoice_schedule
      ? { interval: ct.invoice_schedule.interval, anchor: text(ct.invoice_schedule.anchor), pre_generate_days: text(ct.invoice_schedule.pre_generate_days), grace_hours: text(ct.invoice_schedule.grace_hours) }
      : { interval: 'month', anchor: '', pre_generate_days: '3', grace_hours: '24' },
    auto_send: !!ct.auto_send, starts_at: localInput(ct.starts_at), expires_at: localInput(ct.expires_at),
    // The times as loaded: a PATCH sends a time only when it was changed, since the
    // input holds minutes and the stored time may have seconds.
    loaded: { starts_at: localInput(ct.starts_at), expires_at: localInput(ct.expires_at) },
  };
}

/** A whole number as a JSON number; anything else as typed, for the server to judge. */
const whole = (v) => (/^\d{1,15}$/.test(v) ? Number(v) : v);
const opt = (v) => (v == null || String(v).trim() === '' ? undefined : String(v).trim());
const utc = (v) => (v ? `${v.length === 16 ? `${v}:00` : v}Z` : undefined);

function priceBody(it) {
  switch (it.model) {
    case 'per_unit': return { model: 'per_unit', unit_amount: opt(it.unit_amount) };
    case 'package': return { model: 'package', package_size: opt(it.package_size) && whole(it.package_size.trim()), package_amount: opt(it.package_amount) };
    case 'fixed': return { model: 'fixed', amount: opt(it.amount) };
    default: return {
      model: it.model,
      tiers: it.tiers.map((t) => ({ up_to: opt(t.up_to) ?? null, unit_amount: opt(t.unit_amount), flat_amount: opt(t.flat_amount) })),
    };
  }
}

/** The request body for `POST /v1/contracts` (and `PATCH`), from the form's state. */
export function contractBody(s) {
  return {
    customer: { name: s.customer.name, email: opt(s.customer.email), external_id: opt(s.customer.external_id), currency: opt(s.customer.currency)?.toUpperCase() },
    items: s.items.map((it) => ({
      name: it.name, kind: it.kind, metric_code: it.kind === 'usage' ? opt(it.metric_code) : undefined,
      price: priceBody(it), minimum: opt(it.minimum),
    })),
    invoice_schedule: {
      interval: s.schedule.interval, anchor: opt(s.schedule.anchor),
      pre_generate_days: opt(s.schedule.pre_generate_days) && whole(s.schedule.pre_generate_days.trim()),
      grace_hours: opt(s.schedule.grace_hours) && whole(s.schedule.grace_hours.trim()),
    },
    auto_send: s.auto_send,
    starts_at: timeBody(s, 'starts_at'),
    expires_at: timeBody(s, 'expires_at'),
  };
}

/** A time as typed (UTC); left out when unchanged from the loaded draft, `null` when cleared. */
function timeBody(s, key) {
  if (!s.loaded) return utc(s[key]);
  if (s[key] === s.loaded[key]) return undefined;
  return s[key] ? utc(s[key]) : null;
}

/** Every path the form has a place for, so an error lands on its field or nearest group. */
function knownPaths(s) {
  const p = new Set(['', 'customer', 'customer.name', 'customer.email', 'customer.external_id', 'customer.currency', 'items',
    'invoice_schedule', 'invoice_schedule.interval', 'invoice_schedule.anchor', 'invoice_schedule.pre_generate_days',
    'invoice_schedule.grace_hours', 'auto_send', 'starts_at', 'expires_at', 'document']);
  s.items.forEach((it, i) => {
    const b = `items[${i}]`;
    [b, `${b}.name`, `${b}.kind`, `${b}.metric_code`, `${b}.price`, `${b}.price.model`, `${b}.minimum`].forEach((x) => p.add(x));
    if (it.model === 'per_unit') p.add(`${b}.price.unit_amount`);
    if (it.model === 'package') { p.add(`${b}.price.package_size`); p.add(`${b}.price.package_amount`); }
    if (it.model === 'fixed') p.add(`${b}.price.amount`);
    if (it.model === 'graduated' || it.model === 'volume') {
      p.add(`${b}.price.tiers`);
      it.tiers.forEach((_, j) => ['', '.up_to', '.unit_amount', '.flat_amount'].forEach((f) => p.add(`${b}.price.tiers[${j}]${f}`)));
    }
  });
  return p;
}

/** `items[0].price.tiers[1].unit_amount` → `items[0].price.tiers[1]` → … → `''`. */
function parentPath(path) {
  const m = /^(.*)(\.[^.[\]]+|\[\d+\])$/.exec(path);
  return m ? m[1] : '';
}

/** Groups the API's `errors[]` by the path each is shown at. */
export function placeErrors(errors, s) {
  const known = knownPaths(s);
  const at = new Map();
  for (const e of errors) {
    let p = e.field ?? '';
    while (p && !known.has(p)) p = parentPath(p);
    at.set(p, [...(at.get(p) ?? []), e]);
  }
  return at;
}

const fid = (path) => `f-${path.replace(/[^A-Za-z0-9]+/g, '-').replace(/-$/, '') || 'form'}`;

function formPage({ contract, go }) {
  const state = stateFrom(contract);
  let errors = new Map();
  let allErrors = [];
  let dirty = false;
  let file = null;
  let metrics = null; // null: loading; an array; or an Error
  const note = flash;
  flash = null;

  const form = h('form', { class: 'contract-form', novalidate: true });
  const status = h('div', { 'aria-live': 'polite' }, note ? h('p', { class: 'notice' }, note) : null);
  const saveButton = h('button', { type: 'submit', class: 'btn btn-primary' }, contract ? 'Save changes' : 'Save draft');
  const acceptButton = contract ? h('button', { type: 'button', class: 'btn btn-primary' }, 'Accept contract…') : null;
  const cancelButton = contract ? h('button', { type: 'button', class: 'btn btn-danger' }, 'Cancel contract…') : null;

  // One file input for the page's life: re-rendering the form moves it, so a chosen file
  // stays chosen through a save that the server refused.
  const picker = h('input', { type: 'file', accept: 'application/pdf,image/png,image/jpeg,image/gif,image/webp' });
  picker.addEventListener('change', () => {
    file = picker.files[0] ?? null;
    const help = document.getElementById(`${fid('document')}-help`);
    if (help) help.textContent = file ? `Chosen: ${file.name}, ${size(file.size)}. It is uploaded when you save.` : 'Uploaded when you save.';
  });

  listAll('/v1/billing/metrics').then((m) => { metrics = m; render(); }, (e) => { metrics = e; render(); });

  /** One labelled input bound to the state through `set`, with its errors. */
  function field(path, label, input, { help, set, wide } = {}) {
    const id = fid(path);
    input.id = id;
    input.dataset.field = path;
    const errs = errors.get(path);
    const describedBy = [help ? `${id}-help` : null, errs ? `${id}-error` : null].filter(Boolean).join(' ');
    if (describedBy) input.setAttribute('aria-describedby', describedBy);
    else input.removeAttribute('aria-describedby');
    if (errs) input.setAttribute('aria-invalid', 'true');
    else input.removeAttribute('aria-invalid');
    if (set) {
      input.addEventListener(input.type === 'checkbox' || input.tagName === 'SELECT' ? 'change' : 'input', () => {
        set(input.type === 'checkbox' ? input.checked : input.value);
        dirty = true;
        updateExamples();
      });
    }
    return h('div', { class: `field${wide ? ' wide' : ''}${errs ? ' has-error' : ''}` },
      input.type === 'checkbox'
        ? h('label', { class: 'check', for: id }, input, ` ${label}`)
        : [h('label', { for: id }, label), input],
      help ? h('p', { class: 'help', id: `${id}-help` }, help) : null,
      errs ? h('p', { class: 'field-error', id: `${id}-error` }, errs.map((e) => e.message).join(' ')) : null);
  }

  /** Errors for a group (an item, its tiers) that no single field holds. */
  function groupErrors(path) {
    const errs = errors.get(path);
    return errs ? h('p', { class: 'field-error group-error', id: `${fid(path)}-error` }, errs.map((e) => e.message).join(' ')) : null;
  }

  const input = (value, props = {}) => h('input', { type: 'text', value, autocomplete: 'off', ...props });
  const decimal = (value, props = {}) => input(value, { inputmode: 'decimal', class: 'num', ...props });
  const select = (value, options) => h('select', null, options.map(([v, l]) => h('option', { value: v, selected: v === value }, l)));

  /** Re-renders the whole form (after a structural change), keeping focus where it was. */
  function restructure(focusPath) {
    const focus = focusPath ?? document.activeElement?.dataset?.field;
    render();
    if (focus) document.getElementById(fid(focus))?.focus();
  }

  function metricInput(it, i) {
    const path = `items[${i}].metric_code`;
    if (Array.isArray(metrics) && metrics.length) {
      const options = [['', 'Choose a metric'], ...metrics.map((m) => [m.code, `${m.code} — ${m.name} (${m.aggregation} of “${m.event_name}”)`])];
      if (it.metric_code && !metrics.some((m) => m.code === it.metric_code)) options.push([it.metric_code, it.metric_code]);
      return field(path, 'Metric', select(it.metric_code, options), { set: (v) => { it.metric_code = v; } });
    }
    const help = metrics === null ? 'Loading the metrics…'
      : metrics instanceof Error ? `The metrics could not be loaded (${metrics.message}); type a metric code.`
        : 'No metrics exist yet: create one with POST /v1/billing/metrics, or type its code.';
    return field(path, 'Metric code', input(it.metric_code, { class: 'mono' }), { help, set: (v) => { it.metric_code = v; } });
  }

  function tiersEditor(it, i) {
    const base = `items[${i}].price.tiers`;
    const rows = it.tiers.map((t, j) => {
      const p = `${base}[${j}]`;
      const last = j === it.tiers.length - 1;
      return h('fieldset', { class: `tier${errors.has(p) ? ' has-error' : ''}` },
        h('legend', null, `Tier ${j + 1}`),
        field(`${p}.up_to`, 'Up to (units)', decimal(t.up_to, { placeholder: last ? 'and above' : '' }),
          { help: last ? 'Empty on the last tier: no upper bound.' : null, set: (v) => { t.up_to = v; } }),
        field(`${p}.unit_amount`, `Unit amount (${state.customer.currency || 'USD'})`, decimal(t.unit_amount), { set: (v) => { t.unit_amount = v; } }),
        field(`${p}.flat_amount`, 'Flat amount', decimal(t.flat_amount, { placeholder: '0' }), { set: (v) => { t.flat_amount = v; } }),
        h('output', { class: 'tier-example', 'data-example': `${i}.${j}`, for: fid(`items[${i}].example`) }),
        groupErrors(p),
        h('button', {
          type: 'button', class: 'btn btn-quiet', disabled: it.tiers.length === 1,
          onclick: () => { it.tiers.splice(j, 1); dirty = true; restructure(`${base}[${Math.max(0, j - 1)}].up_to`); },
        }, `Remove tier ${j + 1}`));
    });
    return h('div', { class: 'tiers-editor' }, groupErrors(base), rows,
      h('button', { type: 'button', class: 'btn', onclick: () => { it.tiers.push(blankTier()); dirty = true; restructure(`${base}[${it.tiers.length - 1}].up_to`); } }, 'Add a tier'));
  }

  function priceFields(it, i) {
    const b = `items[${i}].price`;
    const cur = state.customer.currency || 'USD';
    switch (it.model) {
      case 'per_unit': return field(`${b}.unit_amount`, `Unit amount (${cur})`, decimal(it.unit_amount), { set: (v) => { it.unit_amount = v; } });
      case 'package': return h('div', { class: 'row' },
        field(`${b}.package_size`, 'Package size (units)', decimal(it.package_size, { inputmode: 'numeric' }), { set: (v) => { it.package_size = v; } }),
        field(`${b}.package_amount`, `Package amount (${cur})`, decimal(it.package_amount), { set: (v) => { it.package_amount = v; } }));
      case 'fixed': return field(`${b}.amount`, `Amount per period (${cur})`, decimal(it.amount), { set: (v) => { it.amount = v; } });
      default: return tiersEditor(it, i);
    }
  }

  function itemEditor(it, i) {
    const b = `items[${i}]`;
    const models = it.kind === 'fixed' ? MODELS.filter(([m]) => m === 'fixed') : MODELS.filter(([m]) => m !== 'fixed');
    return h('fieldset', { class: `card item${errors.has(b) ? ' has-error' : ''}`, id: fid(b) },
      h('legend', null, `Line item ${i + 1}${it.name ? `: ${it.name}` : ''}`),
      groupErrors(b),
      h('div', { class: 'row' },
        field(`${b}.name`, 'Name', input(it.name), { set: (v) => { it.name = v; } }),
        field(`${b}.kind`, 'Kind', select(it.kind, [['usage', 'Usage-based'], ['fixed', 'Fixed fee']]), {
          set: (v) => { it.kind = v; it.model = v === 'fixed' ? 'fixed' : (it.model === 'fixed' ? 'per_unit' : it.model); restructure(`${b}.kind`); },
        })),
      it.kind === 'usage' ? metricInput(it, i) : null,
      h('div', { class: 'row' },
        field(`${b}.price.model`, 'Price model', select(it.model, models), { set: (v) => { it.model = v; restructure(`${b}.price.model`); } }),
        field(`${b}.minimum`, 'Minimum per period (optional)', decimal(it.minimum), { set: (v) => { it.minimum = v; } })),
      groupErrors(`${b}.price`),
      priceFields(it, i),
      it.kind === 'usage'
        ? h('div', { class: 'example' },
          field(`${b}.example`, 'Example quantity', decimal(it.example), { help: 'Not saved: shows what this price bills for that usage.', set: (v) => { it.example = v; } }),
          h('output', { class: 'example-result', 'data-example': `${i}`, for: fid(`${b}.example`), 'aria-live': 'polite' }))
        : null,
      state.items.length > 1
        ? h('button', { type: 'button', class: 'btn btn-quiet', onclick: () => { state.items.splice(i, 1); dirty = true; restructure(`items[${Math.max(0, i - 1)}].name`); } }, `Remove line item ${i + 1}`)
        : null);
  }

  /** Recomputes each item's example (exact decimals, rounded once, as the server bills). */
  function updateExamples() {
    const cur = state.customer.currency || 'USD';
    state.items.forEach((it, i) => {
      const out = form.querySelector(`output[data-example="${i}"]`);
      if (!out) return;
      const r = priceExample(priceBody(it), it.example, opt(it.minimum) ?? '', cur);
      const tierOuts = form.querySelectorAll(`output[data-example^="${i}."]`);
      if (!r.ok) {
        out.textContent = `Example: ${r.error}.`;
        tierOuts.forEach((o) => { o.textContent = ''; });
        return;
      }
      out.textContent = `${it.example} units bill ${r.amount} ${cur}${r.minimumApplied ? ' (the minimum)' : ''}`
        + (!r.minimumApplied && cmp(parse(r.subtotal), parse(r.amount)) !== 0 ? ` (exactly ${r.subtotal}, rounded half to even)` : '') + '.'
        + (it.model === 'package' && r.tiers[0] ? ` ${r.tiers[0].label}.` : '');
      tierOuts.forEach((o) => {
        const t = r.tiers[Number(o.dataset.example.split('.')[1])];
        o.textContent = t ? `For ${it.example}: ${t.units} units here, ${t.subtotal} ${cur}` : '';
      });
    });
  }

  function render() {
    const s = state;
    const summary = allErrors.length
      ? h('div', { class: 'error-summary', role: 'alert', tabindex: '-1', id: 'error-summary' },
        h('h2', null, allErrors.length === 1 ? 'The contract has a problem' : `The contract has ${allErrors.length} problems`),
        h('ul', null, allErrors.map((e) => h('li', null,
          h('a', { href: `#${fid(placeAt(e))}`, onclick: (ev) => { ev.preventDefault(); document.getElementById(fid(placeAt(e)))?.focus(); } },
            e.field ? `${e.field}: ` : '', e.message)))))
      : null;
    fill(form,
      summary,
      h('fieldset', { class: 'card' }, h('legend', null, 'Customer'), groupErrors('customer'),
        h('div', { class: 'row' },
          field('customer.name', 'Name', input(s.customer.name, { autocomplete: 'organization' }), { set: (v) => { s.customer.name = v; } }),
          field('customer.email', 'Billing email', input(s.customer.email, { type: 'email', autocomplete: 'email' }), { set: (v) => { s.customer.email = v; } })),
        h('div', { class: 'row' },
          field('customer.external_id', 'External id (optional)', input(s.customer.external_id, { class: 'mono' }), { set: (v) => { s.customer.external_id = v; } }),
          field('customer.currency', 'Currency', input(s.customer.currency, { class: 'mono', maxlength: 3, list: 'currencies' }), { help: 'ISO 4217, e.g. USD, EUR, JPY.', set: (v) => { s.customer.currency = v; } }),
          h('datalist', { id: 'currencies' }, ['USD', 'EUR', 'GBP', 'CAD', 'AUD', 'JPY', 'CHF'].map((c) => h('option', { value: c }))))),
      h('h2', null, 'Line items'),
      groupErrors('items'),
      s.items.map(itemEditor),
      h('div', { class: 'actions' },
        h('button', { type: 'button', class: 'btn', onclick: () => { s.items.push(blankItem('usage')); dirty = true; restructure(`items[${s.items.length - 1}].name`); } }, 'Add a usage item'),
        h('button', { type: 'button', class: 'btn', onclick: () => { s.items.push(blankItem('fixed')); dirty = true; restructure(`items[${s.items.length - 1}].name`); } }, 'Add a fixed fee')),
      h('fieldset', { class: 'card' }, h('legend', null, 'Invoicing'), groupErrors('invoice_schedule'),
        h('div', { class: 'row' },
          field('invoice_schedule.interval', 'Every', select(s.schedule.interval, INTERVALS.map((x) => [x, x])), { set: (v) => { s.schedule.interval = v; } }),
          field('invoice_schedule.anchor', 'Periods start on (optional)', input(s.schedule.anchor, { type: 'date' }), { help: 'Default: the 1st of the start’s month.', set: (v) => { s.schedule.anchor = v; } })),
        h('div', { class: 'row' },
          field('invoice_schedule.pre_generate_days', 'Draft this many days before the end', decimal(s.schedule.pre_generate_days, { inputmode: 'numeric' }), { set: (v) => { s.schedule.pre_generate_days = v; } }),
          field('invoice_schedule.grace_hours', 'Final this many hours after the end', decimal(s.schedule.grace_hours, { inputmode: 'numeric' }), { set: (v) => { s.schedule.grace_hours = v; } })),
        field('auto_send', 'Send final invoices automatically (otherwise each waits for approval)', h('input', { type: 'checkbox', checked: s.auto_send }), { set: (v) => { s.auto_send = v; } }),
        h('div', { class: 'row' },
          field('starts_at', 'Starts (UTC, optional)', input(s.starts_at, { type: 'datetime-local' }), { help: 'Default: now.', set: (v) => { s.starts_at = v; } }),
          field('expires_at', 'Offer expires (UTC, optional)', input(s.expires_at, { type: 'datetime-local' }), { help: 'After this it can no longer be accepted.', set: (v) => { s.expires_at = v; } }))),
      h('fieldset', { class: 'card' }, h('legend', null, 'Signed document'),
        contract ? documentView(contract) : null,
        field('document', contract?.document ? 'Replace it with (PDF or image, up to 10 MB)' : 'Attach (PDF or image, up to 10 MB)',
          picker, { help: file ? `Chosen: ${file.name}, ${size(file.size)}. It is uploaded when you save.` : 'Uploaded when you save.' })),
      status,
      h('div', { class: 'actions form-actions' }, saveButton, acceptButton, cancelButton,
        h('a', { class: 'btn btn-quiet', href: '#/contracts' }, 'Back to contracts')));
    updateExamples();
  }

  const placeAt = (e) => {
    const known = knownPaths(state);
    let p = e.field ?? '';
    while (p && !known.has(p)) p = parentPath(p);
    return p;
  };

  function showErrors(list) {
    allErrors = list;
    errors = placeErrors(list, state);
    render();
    const first = list.length ? document.getElementById(fid(placeAt(list[0]))) : null;
    (first ?? document.getElementById('error-summary'))?.focus();
  }

  /** Saves the draft (create or patch), then uploads the chosen document. The contract, or null. */
  async function save() {
    fill(status, loading('Saving'));
    saveButton.disabled = true;
    try {
      let saved = contract;
      if (!contract || dirty) {
        try {
          saved = contract
            ? await api(`/v1/contracts/${encodeURIComponent(contract.id)}`, { method: 'PATCH', body: contractBody(state) })
            : await api('/v1/contracts', { method: 'POST', body: contractBody(state) });
        } catch (e) {
          if (e.code === 'invalid_contract' || (e.status === 400 && e.field)) {
            fill(status);
            showErrors(e.errors.length ? e.errors : [{ code: e.code, message: e.message, field: e.field }]);
            return null;
          }
          throw e;
        }
      }
      if (file) {
        if (file.size > MAX_DOCUMENT) {
          showErrors([{ code: 'payload_too_large', field: 'document', message: `${file.name} is ${size(file.size)}; the limit is 10 MB.` }]);
          return contract ? null : goTo(saved, 'Saved. The document was not uploaded: it is over 10 MB.');
        }
        try {
          saved = await api(`/v1/contracts/${encodeURIComponent(saved.id)}/document`, { method: 'PUT', body: file, query: { filename: file.name } });
        } catch (e) {
          const message = e.code === 'unsupported_media_type' ? 'This file is not a PDF, PNG, JPEG, GIF or WebP.' : e.message;
          if (!contract) return goTo(saved, `Saved, but the document was not uploaded: ${message}`);
          showErrors([{ code: e.code, field: 'document', message }]);
          return null;
        }
      }
      dirty = false;
      file = null;
      picker.value = '';
      allErrors = [];
      errors = new Map();
      return saved;
    } catch (e) {
      fill(status, failure(e));
      return null;
    } finally {
      saveButton.disabled = false;
    }
  }

  function goTo(saved, message) {
    flash = message;
    go(`/contracts/${encodeURIComponent(saved.id)}`);
    return null;
  }

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const saved = await save();
    if (saved) goTo(saved, contract ? 'Changes saved.' : 'Draft saved. Check it, then accept it to create the customer.');
  });

  acceptButton?.addEventListener('click', async () => {
    const n = state.items.length;
    const ok = await confirmDialog({
      title: 'Accept this contract?',
      body: h('p', null, `This creates the customer ${state.customer.name || '(unnamed)'} with ${n} line item${n === 1 ? '' : 's'}, billed from ${state.starts_at ? `${state.starts_at.replace('T', ' ')} UTC` : 'now'}. It cannot be undone.`),
      confirm: 'Accept contract',
    });
    if (!ok) return;
    acceptButton.disabled = true;
    const saved = await save();
    if (!saved) { acceptButton.disabled = false; return; }
    fill(status, loading('Accepting'));
    try {
      const { customer } = await api(`/v1/contracts/${encodeURIComponent(saved.id)}/accept`, { method: 'POST', body: {} });
      forgetCustomers();
      go(`/customers/${encodeURIComponent(customer.id)}`);
    } catch (e) {
      fill(status, failure(e));
      acceptButton.disabled = false;
    }
  });

  cancelButton?.addEventListener('click', async () => {
    const ok = await confirmDialog({
      title: 'Cancel this contract?',
      body: h('p', null, 'A canceled contract can no longer be edited or accepted.'),
      confirm: 'Cancel contract', danger: true,
    });
    if (!ok) return;
    try {
      await api(`/v1/contracts/${encodeURIComponent(contract.id)}/cancel`, { method: 'POST', body: {} });
      goTo(contract, 'Contract canceled.');
    } catch (e) {
      fill(status, failure(e));
    }
  });

  render();
  return h('div', null,
    h('div', { class: 'page-head' },
      h('h1', null, contract ? `Draft contract for ${contract.customer.name}` : 'New contract'),
      contract ? badge(contract.status) : null),
    contract ? h('p', { class: 'mono muted' }, contract.id) : null,
    form);
}

