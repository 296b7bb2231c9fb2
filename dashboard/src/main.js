// The dashboard: hash routes (`#/customers/cus_…`), each a page that renders into <main>.
// Signed out, every route shows the sign-in form.
import { clearKey, forgetCustomers, getKey, whenUnauthorized } from './api.js';
import { fill } from './dom.js';
import { signIn } from './pages/signin.js';
import { customerList } from './pages/customers.js';
import { customerPage } from './pages/customer.js';
import { contractList } from './pages/contracts.js';
import { contractPage, newContractPage } from './pages/contract.js';
import { invoiceList } from './pages/invoices.js';
import { invoicePage } from './pages/invoice.js';
import { rejectionsPage } from './pages/rejections.js';

const ROUTES = [
  [/^\/customers$/, customerList, 'customers'],
  [/^\/customers\/([^/]+)$/, customerPage, 'customers'],
  [/^\/contracts$/, contractList, 'contracts'],
  [/^\/contracts\/new$/, newContractPage, 'contracts'],
  [/^\/contracts\/([^/]+)$/, contractPage, 'contracts'],
  [/^\/invoices$/, invoiceList, 'invoices'],
  [/^\/invoices\/([^/]+)$/, invoicePage, 'invoices'],
  [/^\/rejections$/, rejectionsPage, 'rejections'],
];

const main = document.getElementById('main');
const top = document.getElementById('top');
let notice = null;

/** Parses `#/path?x=1` into the path and its query. */
function current() {
  const raw = location.hash.replace(/^#/, '') || '/customers';
  const [path, qs] = raw.split('?');
  return { path, query: new URLSearchParams(qs ?? '') };
}

/** Goes to an app path (`/invoices/inv_…`). */
export function go(path) {
  if (location.hash === `#${path}`) render();
  else location.hash = path;
}

let generation = 0;
function render() {
  const gen = ++generation;
  const signedIn = !!getKey();
  top.hidden = !signedIn;
  const { path, query } = current();
  let page;
  if (!signedIn) {
    page = signIn({ notice, onSignedIn: () => { notice = null; forgetCustomers(); render(); } });
  } else {
    const hit = ROUTES.map(([re, fn, nav]) => [re.exec(path), fn, nav]).find(([m]) => m);
    for (const a of top.querySelectorAll('[data-nav]')) {
      if (hit && a.dataset.nav === hit[2]) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    page = hit
      ? hit[1]({ params: hit[0].slice(1).map(decodeURIComponent), query, go, isCurrent: () => gen === generation })
      : notFound();
  }
  fill(main, page);
  const heading = main.querySelector('h1');
  document.title = heading ? `${heading.textContent} · edgemeter` : 'edgemeter';
  // Move focus to the new page's heading, so keyboard and screen-reader users start there.
  const first = main.querySelector('[data-autofocus]');
  if (first) first.focus();
  else if (heading) {
    heading.tabIndex = -1;
    heading.focus({ preventScroll: true });
  }
  window.scrollTo(0, 0);
}

function notFound() {
  const d = document.createElement('div');
  d.innerHTML = '<h1>Not found</h1><p>There is no such page. <a href="#/customers">Customers</a></p>';
  return d;
}

function signOut(message) {
  clearKey();
  forgetCustomers();
  notice = message ?? null;
  render();
}

document.getElementById('sign-out').addEventListener('click', () => signOut('Signed out.'));
// The skip link moves focus without touching the hash, which is the app's route.
document.querySelector('.skip').addEventListener('click', (ev) => {
  ev.preventDefault();
  main.focus();
});
whenUnauthorized(() => signOut('The key was refused (401). Sign in again.'));
window.addEventListener('hashchange', render);
render();
