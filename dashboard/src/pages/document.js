// A contract's signed document: its name, size and hash; download it, or preview it in
// the page (a PDF in a frame, an image inline), fetched with the key as a Blob.
import { api } from '../api.js';
import { facts, h, when } from '../dom.js';

/** `12345` → `12.1 KB`. */
export function size(bytes) {
  if (bytes < 1024) return `${bytes} bytes`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

const fetchDocument = (ct) => api(`/v1/contracts/${encodeURIComponent(ct.id)}/document`, { as: 'blob' });

export function documentView(ct) {
  const doc = ct.document;
  if (!doc) return h('p', { class: 'muted' }, 'No signed document attached.');
  const preview = h('div', { class: 'preview', 'aria-live': 'polite' });
  const status = h('span', { class: 'muted', role: 'status' });
  const download = h('button', { type: 'button', class: 'btn' }, 'Download');
  const show = h('button', { type: 'button', class: 'btn', 'aria-expanded': 'false' }, 'Preview');
  download.addEventListener('click', async () => {
    status.textContent = 'Downloading…';
    try {
      const blob = await fetchDocument(ct);
      const url = URL.createObjectURL(blob);
      const a = h('a', { href: url, download: doc.name, hidden: true });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
      status.textContent = '';
    } catch (e) {
      status.textContent = `Could not download: ${e.message}`;
    }
  });
  show.addEventListener('click', async () => {
    if (show.getAttribute('aria-expanded') === 'true') {
      preview.replaceChildren();
      show.setAttribute('aria-expanded', 'false');
      show.textContent = 'Preview';
      return;
    }
    status.textContent = 'Loading the preview…';
    try {
      const blob = await fetchDocument(ct);
      const url = URL.createObjectURL(blob);
      preview.replaceChildren(blob.type === 'application/pdf'
        ? h('iframe', { src: url, title: `Preview of ${doc.name}`, class: 'doc-frame' })
        : h('img', { src: url, alt: `The signed document, ${doc.name}`, class: 'doc-image' }));
      show.setAttribute('aria-expanded', 'true');
      show.textContent = 'Hide preview';
      status.textContent = '';
    } catch (e) {
      status.textContent = `Could not load the preview: ${e.message}`;
    }
  });
  return h('div', { class: 'document' },
    h('h3', null, 'Signed document'),
    facts([
      ['File', doc.name],
      ['Type', doc.content_type],
      ['Size', size(doc.size)],
      ['SHA-256', h('span', { class: 'mono hash' }, doc.sha256)],
      ['Uploaded', when(doc.uploaded_at)],
    ]),
    h('div', { class: 'actions' }, download, show, status),
    preview);
}
