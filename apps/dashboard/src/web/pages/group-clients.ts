// The group page's "subscriptions per client" card: what each online client itself says it
// subscribes to, with a flag when the clients of the group disagree.
import { api, errorBox, h, mount, table } from '../dom.js';
import type { GroupClientsView } from '../views.js';

/** `onAnswer` gets whether the clients agree once they answered (the page's own flag follows it). */
export function clientSubscriptionsCard(group: string, onAnswer: (v: GroupClientsView) => void = () => undefined): HTMLElement {
  const body = h('div', { id: 'client-subscriptions' }, h('p', { class: 'muted' }, 'Asking each client…'));
  const title = h('h2', null, 'Subscriptions per client ');
  void api<GroupClientsView>(`groups/${encodeURIComponent(group)}/clients`)
    .then((v) => {
      onAnswer(v);
      if (v.clients.length > 0) {
        title.appendChild(
          v.consistent
            ? h('span', { class: 'flag ok', id: 'client-subscription-flag' }, 'all clients subscribe alike')
            : h('span', { class: 'flag bad', id: 'client-subscription-flag' }, 'subscriptions differ between clients'),
        );
      }
      mount(
        body,
        table(
          ['Client ID', 'Topic', 'Expression', 'Type'],
          v.clients.flatMap((c) =>
            c.error !== null
              ? [h('tr', { 'data-client': c.clientId }, h('td', null, c.clientId), h('td', { colspan: 3 }, h('span', { class: 'flag warn' }, c.error)))]
              : c.subscriptions.map((s) =>
                  h(
                    'tr',
                    { 'data-client': c.clientId, 'data-topic': s.topic },
                    h('td', null, c.clientId),
                    h('td', null, s.topic),
                    h('td', null, s.subString),
                    h('td', null, s.expressionType),
                  ),
                ),
          ),
          'no client online',
        ),
      );
    })
    .catch((e: unknown) => mount(body, errorBox(e)));
  return h('section', { class: 'card' }, title, body);
}
