import { api, errorBox, field, formValues, go, h, mount, table } from '../dom.js';
import type { ConnectionView } from '../views.js';

/**
 * Brokers know producers by group only (GET_PRODUCER_CONNECTION_LIST), and there is no call that
 * lists the groups: the operator names the topic (to find its brokers) and the group.
 */
export async function producersPage(main: HTMLElement, query: URLSearchParams): Promise<void> {
  const topic = query.get('topic') ?? '';
  const group = query.get('group') ?? '';
  const form = h(
    'form',
    { class: 'inline', id: 'producer-search' },
    field('Topic', h('input', { name: 'topic', required: true, value: topic })),
    field('Producer group', h('input', { name: 'group', required: true, value: group })),
    h('button', { type: 'submit' }, 'Show connections'),
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const v = formValues(form);
    go('producers', { topic: v['topic'] ?? '', group: v['group'] ?? '' });
  });
  const result = h('div');
  mount(
    main,
    h('h1', null, 'Producers'),
    h('section', { class: 'card' }, h('p', { class: 'muted' }, 'Brokers track producers by group; give the topic they send to and their group.'), form),
    h('section', { class: 'card' }, result),
  );
  if (!topic || !group) {
    mount(result, h('p', { class: 'muted' }, 'No search yet.'));
    return;
  }
  try {
    const list = await api<ConnectionView[]>(`producers?topic=${encodeURIComponent(topic)}&group=${encodeURIComponent(group)}`);
    mount(
      result,
      h('h2', null, `${group} on ${topic}`),
      table(
        ['Client ID', 'Address', 'Language', 'Version'],
        list.map((c) =>
          h('tr', null, h('td', null, c.clientId), h('td', null, c.clientAddr), h('td', null, c.language), h('td', null, c.versionDesc || String(c.version))),
        ),
        'no producer of this group is connected',
      ),
    );
  } catch (e) {
    mount(result, errorBox(e));
  }
}
