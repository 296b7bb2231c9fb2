// Sign in with a secret key: checked by reading one customer, then kept in sessionStorage.
import { api, setKey } from '../api.js';
import { h } from '../dom.js';

export function signIn({ notice, onSignedIn }) {
  const input = h('input', {
    id: 'key', name: 'key', type: 'password', autocomplete: 'off', spellcheck: 'false',
    required: true, 'data-autofocus': true, 'aria-describedby': 'key-help key-error',
  });
  const error = h('p', { id: 'key-error', class: 'field-error', role: 'alert' });
  const button = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Sign in');
  const form = h('form', { class: 'card signin', novalidate: true },
    h('h1', null, 'Sign in'),
    notice ? h('p', { class: 'notice', role: 'status' }, notice) : null,
    h('label', { for: 'key' }, 'Secret key'),
    input,
    h('p', { id: 'key-help', class: 'help' },
      'A secret key (sk_…). It stays in this tab only (sessionStorage) and is sent only to this server.'),
    error,
    button);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const key = input.value.trim();
    error.textContent = '';
    input.removeAttribute('aria-invalid');
    if (!key) return invalid('Enter a secret key.');
    button.disabled = true;
    button.textContent = 'Signing in…';
    try {
      await api('/v1/customers', { key, query: { limit: 1 } });
      setKey(key);
      onSignedIn();
    } catch (e) {
      invalid(e.status === 401 ? 'This key is not valid here.'
        : e.status === 403 ? 'This key may not read the account (an ingest key?). Use a secret key.'
        : e.message);
    } finally {
      button.disabled = false;
      button.textContent = 'Sign in';
    }
  });
  function invalid(message) {
    error.textContent = message;
    input.setAttribute('aria-invalid', 'true');
    input.focus();
  }
  return h('div', { class: 'signin-wrap' }, form);
}
