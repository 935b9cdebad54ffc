// An address the console does not know.

import { el } from '../lib/dom.js';

export function mount(ctx) {
  document.title = 'Not found · Vigil console';
  ctx.root.append(
    el('h1', { tabindex: '-1' }, 'No such page'),
    el('p', {}, 'This address is not a page of the console. ', el('a', { href: '#/overview' }, 'Go to the fleet overview'), '.'));
}
