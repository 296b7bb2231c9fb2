// A confirmation step as a modal <dialog>: focus moves into it and stays there, Escape
// cancels, and focus returns to the button that opened it.
import { h } from './dom.js';

/** Resolves `true` when confirmed, `false` when cancelled. */
export function confirmDialog({ title, body, confirm, danger = false }) {
  return new Promise((resolve) => {
    const opener = document.activeElement;
    const yes = h('button', { type: 'submit', value: 'yes', class: `btn ${danger ? 'btn-danger' : 'btn-primary'}` }, confirm);
    const no = h('button', { type: 'submit', value: 'no', class: 'btn', autofocus: true }, 'Cancel');
    const dialog = h('dialog', { class: 'confirm', 'aria-labelledby': 'dialog-title', 'aria-describedby': 'dialog-body' },
      h('form', { method: 'dialog' },
        h('h2', { id: 'dialog-title' }, title),
        h('div', { id: 'dialog-body' }, body),
        h('div', { class: 'actions' }, yes, no)));
    dialog.addEventListener('close', () => {
      dialog.remove();
      if (opener instanceof HTMLElement) opener.focus();
      resolve(dialog.returnValue === 'yes');
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}
