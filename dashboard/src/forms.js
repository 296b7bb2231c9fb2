// The small forms and refreshable cards of a customer's page (grants, alerts, limits,
// prices to try): labelled inputs, one submit, and the server's answer shown where it
// belongs. Validation is the server's: a 4xx naming a `field` lands under that field
// (with `aria-invalid`), anything else under the form.
import { failure, fill, h, loading } from './dom.js';

let serial = 0;

/** A text input; `decimal` ones ask phones for the number pad. */
export const input = (props = {}) => h('input', { type: 'text', autocomplete: 'off', ...props });
export const decimalInput = (props = {}) => input({ inputmode: 'decimal', class: 'num', ...props });

/** A `<select>` of `[value, label]` pairs. */
export const select = (options, value) =>
  h('select', null, options.map(([v, l]) => h('option', { value: v, selected: v === value }, l)));

/** `2026-12-01T10:00` from a datetime-local input (read as UTC) → `2026-12-01T10:00:00Z`. */
export const utc = (v) => (v ? `${v.length === 16 ? `${v}:00` : v}Z` : undefined);

/** A trimmed value, or `undefined` when empty (so optional fields are left out). */
export const opt = (v) => (v == null || String(v).trim() === '' ? undefined : String(v).trim());

/**
 * A form of `fields` (`[{ name, label, input, help, when }]`; `name` is the API's field,
 * so an error naming it lands there; `when()` hides a field that does not apply now).
 * `submit(values)` gets each field's value by name and returns a promise; on success the
 * form is reset and `done(result)` runs, on an API error the error is shown.
 */
export function smallForm({ title, fields, submitLabel, submit, done, className }) {
  const id = `form-${++serial}`;
  const status = h('div', { class: 'form-status', 'aria-live': 'polite' });
  const button = h('button', { type: 'submit', class: 'btn btn-primary' }, submitLabel);
  const rows = fields.map((f) => {
    const fieldId = `${id}-${f.name}`;
    f.input.id = fieldId;
    f.input.name = f.name;
    const error = h('p', { class: 'field-error', id: `${fieldId}-error` });
    const help = f.help ? h('p', { class: 'help', id: `${fieldId}-help` }, f.help) : null;
    f.input.setAttribute('aria-describedby', [help ? `${fieldId}-help` : null, `${fieldId}-error`].filter(Boolean).join(' '));
    const wrap = h('div', { class: 'field' }, h('label', { for: fieldId }, f.label), f.input, help, error);
    return { ...f, wrap, error };
  });
  const refresh = () => rows.forEach((r) => { r.wrap.hidden = r.when ? !r.when() : false; });
  for (const r of rows) r.input.addEventListener('change', refresh);
  refresh();

  const form = h('form', { class: `small-form${className ? ` ${className}` : ''}`, novalidate: true, 'aria-label': title },
    h('h3', null, title), h('div', { class: 'row' }, rows.map((r) => r.wrap)), h('div', { class: 'actions' }, button), status);

  const clear = () => {
    fill(status);
    for (const r of rows) {
      r.error.textContent = '';
      r.input.removeAttribute('aria-invalid');
    }
  };
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clear();
    const values = Object.fromEntries(rows.filter((r) => !r.wrap.hidden).map((r) => [r.name, r.input.value]));
    button.disabled = true;
    fill(status, loading('Saving'));
    try {
      const result = await submit(values);
      fill(status);
      form.reset();
      refresh();
      done?.(result);
    } catch (e) {
      fill(status);
      const at = rows.find((r) => e.field && (e.field === r.name || e.field.startsWith(`${r.name}.`) || e.field.startsWith(`${r.name}[`)));
      if (at && !at.wrap.hidden) {
        at.error.textContent = `${e.message}${e.code ? ` (${e.code})` : ''}`;
        at.input.setAttribute('aria-invalid', 'true');
        at.input.focus();
      } else {
        fill(status, failure(e));
      }
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

/**
 * A card whose content comes from `load()`, drawn by `render(data, reload)`; `reload()`
 * loads it again (after a change made in it or beside it), keeping the old content until
 * the new one is in, so the page does not jump.
 */
export function liveSection(title, load, render, { id, className } = {}) {
  const body = h('div', { class: 'section-body' }, loading());
  const el = h('section', { class: `card${className ? ` ${className}` : ''}`, id, 'aria-labelledby': `${id}-h` },
    h('h2', { id: `${id}-h` }, title), body);
  let gen = 0;
  const reload = () => {
    const mine = ++gen;
    body.setAttribute('aria-busy', 'true');
    return Promise.resolve().then(load).then(
      (data) => { if (mine === gen) fill(body, render(data, reload)); },
      (err) => { if (mine === gen) fill(body, failure(err, reload)); },
    ).finally(() => { if (mine === gen) body.removeAttribute('aria-busy'); });
  };
  reload();
  return { el, reload };
}
