// A modal confirmation for actions that change something: a real <dialog>, so focus stays in
// it, Escape cancels, and focus returns to the button that opened it.

import { el, uniqueId } from './dom.js';

// Resolves to { confirmed, note }; `note` only when `withNote` asked for one.
export function confirmAction({ title, body, confirmLabel, danger = false, withNote = false }) {
  return new Promise((resolve) => {
    const opener = document.activeElement;
    const titleId = uniqueId('dialog-title');
    const noteInput = withNote
      ? el('textarea', { id: uniqueId('note'), maxlength: 1000, rows: 3, class: 'note-input' })
      : null;
    let result = { confirmed: false };
    const cancel = el('button', { type: 'button', class: 'button secondary', onclick: () => dialog.close() }, 'Cancel');
    const confirm = el('button', {
      type: 'button',
      class: ['button', danger ? 'danger' : 'primary'],
      onclick: () => {
        result = { confirmed: true, note: noteInput ? noteInput.value.trim() : undefined };
        dialog.close();
      },
    }, confirmLabel);
    const dialog = el('dialog', { class: 'confirm', 'aria-labelledby': titleId },
      el('h2', { id: titleId }, title),
      (Array.isArray(body) ? body : [body]).map((p) => el('p', {}, p)),
      noteInput ? el('div', { class: 'field' }, el('label', { for: noteInput.id }, 'Note (optional, kept with the alert)'), noteInput) : null,
      el('div', { class: 'actions' }, cancel, confirm));
    dialog.addEventListener('close', () => {
      dialog.remove();
      if (opener && opener.isConnected) opener.focus();
      resolve(result);
    });
    document.body.appendChild(dialog);
    dialog.showModal();
    (noteInput ?? cancel).focus();
  });
}
