// Customers: every page of the list, filtered here as the person types.
import { customers } from '../api.js';
import { day, empty, failure, fill, h, link, loading, table } from '../dom.js';

export function customerList() {
  const results = h('div', { 'aria-live': 'polite' }, loading('Loading customers'));
  const search = h('input', { id: 'search', type: 'search', placeholder: 'Name, email, id or external id', autocomplete: 'off' });
  let all = [];
  const show = () => {
    const q = search.value.trim().toLowerCase();
    const hits = q ? all.filter((c) => [c.name, c.email, c.id, c.external_id].some((v) => v && v.toLowerCase().includes(q))) : all;
    if (!all.length) return fill(results, empty('No customers yet. Accept a contract to create one.'));
    if (!hits.length) return fill(results, empty(`No customer matches “${search.value.trim()}”.`));
    fill(results,
      h('p', { class: 'count' }, `${hits.length} of ${all.length} customers`),
      table('Customers', ['Name', 'Email', 'Currency', 'Contract', 'Created'], hits.map((c) => [
        link(`#/customers/${encodeURIComponent(c.id)}`, c.name),
        c.email,
        c.currency,
        c.contract_id ? link(`#/contracts/${encodeURIComponent(c.contract_id)}`, c.contract_id, { class: 'mono' }) : '—',
        day(c.created_at),
      ])));
  };
  const load = (fresh) => {
    fill(results, loading('Loading customers'));
    customers({ fresh }).then((list) => { all = list; show(); }, (e) => fill(results, failure(e, () => load(true))));
  };
  search.addEventListener('input', show);
  load(true);
  return h('div', null,
    h('div', { class: 'page-head' }, h('h1', null, 'Customers'),
      h('a', { class: 'btn btn-primary', href: '#/contracts/new' }, 'New contract')),
    h('div', { class: 'toolbar' }, h('label', { for: 'search' }, 'Search'), search),
    results);
}
