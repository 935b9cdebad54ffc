// Sign-in: an admin token, checked against the collector before it is kept. The token is
// read from a password field, sent once to GET /api/v1/health to check it, and kept in this
// tab's sessionStorage by the shell; it never appears in the URL or the page.

import { el, code, field } from '../lib/dom.js';
import { failureText } from '../lib/messages.js';

export function mount(ctx) {
  document.title = 'Sign in · Vigil console';
  const problem = el('div', { class: 'problem', role: 'alert', id: 'signin-problem' });
  const said = ctx.signedOutMessage;
  const input = el('input', {
    type: 'password', name: 'token', id: 'token-input', autocomplete: 'off', spellcheck: 'false',
    autocapitalize: 'off', required: true, maxlength: 512,
  });
  const submit = el('button', { type: 'submit', class: 'button primary', id: 'sign-in' }, 'Sign in');
  const form = el('form', { class: 'signin-form', novalidate: true },
    field('Admin token', input, 'Starts with vga_ unless your operator configured one (admin.token).'),
    el('div', { class: 'actions' }, submit));

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const token = input.value.trim();
    if (!token) {
      problem.replaceChildren(el('p', {}, 'Enter an admin token.'));
      input.focus();
      return;
    }
    submit.disabled = true;
    submit.textContent = 'Checking…';
    try {
      await ctx.api.probe('/api/v1/health', token);
      input.value = '';
      ctx.signIn(token);
    } catch (error) {
      const text = error.kind === 'unauthorized' || error.kind === 'forbidden'
        ? `The collector refused this token: ${error.message}. Check that it was copied whole and is not expired or revoked.`
        : failureText(error);
      problem.replaceChildren(el('p', {}, text));
      submit.disabled = false;
      submit.textContent = 'Sign in';
      input.focus();
      input.select();
    }
  });

  ctx.root.append(
    el('div', { class: 'signin' },
      el('h1', { tabindex: '-1' }, 'Sign in to the Vigil console'),
      said ? el('p', { class: 'notice', role: 'status' }, said) : null,
      problem,
      form,
      el('h2', {}, 'Which token'),
      el('p', {}, 'Any admin token of this collector. What you see and may change follows the token: ',
        'its scope (all tenants, or only some) and its role (',
        el('strong', {}, 'read-only'), ' reads; ', el('strong', {}, 'operator'),
        ' also acknowledges and resolves alerts and plans maintenance; ', el('strong', {}, 'admin'),
        ' also retires agents).'),
      el('ul', {},
        el('li', {}, 'The collector writes one all-tenants admin token at its first start: ',
          code('<data dir>/admin-token'), ' (for a package install ', code('/var/lib/vigil/collector/admin-token'), ').'),
        el('li', {}, 'Make a named one for each person: ',
          code('vigil-collector admin-token create --name "jane" --role operator --tenant 3'),
          ', or POST /api/v1/admin-tokens.')),
      el('p', { class: 'muted' },
        'The token stays in this browser tab only (sessionStorage): closing the tab or signing out forgets it. ',
        'It is sent to this collector only, in the Authorization header.')));
  ctx.focusOnArrival = input;
}
