import { chartCard } from '../charts.js';
import { api, errorBox, field, fmtTime, formValues, go, h, mount, num, table } from '../dom.js';
import type { SendResultView, TopicDetailView, TopicSummaryView } from '../views.js';

const KINDS: Array<TopicSummaryView['kind']> = ['normal', 'retry', 'dlq', 'system'];

function topicForm(onSaved: (topic: string) => void, current?: TopicDetailView): HTMLElement {
  const q = current?.route.queues[0];
  const status = h('div');
  const form = h(
    'form',
    { class: 'inline', id: current ? 'topic-update' : 'topic-create' },
    current
      ? h('input', { type: 'hidden', name: 'topic', value: current.topic })
      : field('Topic', h('input', { name: 'topic', required: true, placeholder: 'TopicName', pattern: '[%|a-zA-Z0-9_\\-]+', maxlength: 127 })),
    field('Write queues', h('input', { name: 'writeQueueNums', type: 'number', min: 1, max: 1024, value: q?.writeQueueNums ?? 8, class: 'short' })),
    field('Read queues', h('input', { name: 'readQueueNums', type: 'number', min: 1, max: 1024, value: q?.readQueueNums ?? 8, class: 'short' })),
    field(
      'Permission',
      h(
        'select',
        { name: 'perm' },
        [6, 4, 2].map((p) => h('option', { value: p, selected: (q?.perm ?? 6) === p }, p === 6 ? 'read + write' : p === 4 ? 'read only' : 'write only')),
      ),
    ),
    h('button', { type: 'submit' }, current ? 'Update' : 'Create topic'),
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const v = formValues(form);
    const topic = v['topic'] ?? '';
    mount(status, h('p', { class: 'muted' }, 'Saving…'));
    api<{ brokers: string[] }>('topics', {
      method: 'POST',
      body: { topic, writeQueueNums: Number(v['writeQueueNums']), readQueueNums: Number(v['readQueueNums']), perm: Number(v['perm']) },
    })
      .then((r) => {
        mount(status, h('div', { class: 'notice' }, `Saved ${topic} on ${r.brokers.join(', ')}`));
        onSaved(topic);
      })
      .catch((e: unknown) => mount(status, errorBox(e)));
  });
  return h('div', null, form, status);
}

export async function topicsPage(main: HTMLElement): Promise<void> {
  const topics = await api<TopicSummaryView[]>('topics');
  const shown = new Set<TopicSummaryView['kind']>(['normal']);
  const filter = h('input', { type: 'search', placeholder: 'Filter topics', 'aria-label': 'Filter topics' });
  const list = h('div');
  const render = (): void => {
    const f = filter.value.trim().toLowerCase();
    const rows = topics
      .filter((t) => shown.has(t.kind) && (!f || t.topic.toLowerCase().includes(f)))
      .map((t) =>
        h(
          'tr',
          { class: 'clickable', 'data-topic': t.topic, onclick: () => go(`topics/${encodeURIComponent(t.topic)}`) },
          h('td', null, h('a', { href: `#/topics/${encodeURIComponent(t.topic)}` }, t.topic)),
          h('td', null, t.kind),
        ),
      );
    mount(list, table(['Topic', 'Kind'], rows, 'no topic matches'));
  };
  filter.addEventListener('input', render);
  const toggles = KINDS.map((k) => {
    const box = h('input', { type: 'checkbox', checked: shown.has(k) });
    box.addEventListener('change', () => {
      if (box.checked) shown.add(k);
      else shown.delete(k);
      render();
    });
    return h('label', null, box, ` ${k} (${topics.filter((t) => t.kind === k).length})`);
  });
  mount(
    main,
    h('h1', null, 'Topics'),
    h(
      'section',
      { class: 'card' },
      h('h2', null, 'Create a topic'),
      topicForm((t) => go(`topics/${encodeURIComponent(t)}`)),
    ),
    h('section', { class: 'card' }, h('div', { class: 'toolbar' }, filter, toggles), list),
  );
  render();
}

function sendForm(topic: string): HTMLElement {
  const status = h('div');
  const form = h(
    'form',
    { class: 'inline', id: 'send-message' },
    field('Keys', h('input', { name: 'keys', placeholder: 'order-1 (space separated)' })),
    field('Tags', h('input', { name: 'tags', placeholder: 'TagA' })),
    h('label', { class: 'grow' }, 'Body', h('textarea', { name: 'body', rows: 3, placeholder: '{"hello":"world"}' })),
    h('button', { type: 'submit' }, 'Send'),
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const v = formValues(form);
    mount(status, h('p', { class: 'muted' }, 'Sending…'));
    api<SendResultView>(`topics/${encodeURIComponent(topic)}/messages`, { method: 'POST', body: v })
      .then((r) => {
        const keys = (v['keys'] ?? '').trim().split(/\s+/)[0] ?? '';
        mount(
          status,
          h(
            'div',
            { class: 'notice', id: 'send-result' },
            `${r.sendStatus}: ${r.msgId} on ${r.brokerName} queue ${r.queueId} offset ${r.queueOffset} `,
            keys ? h('a', { href: `#/messages?mode=key&topic=${encodeURIComponent(topic)}&key=${encodeURIComponent(keys)}` }, 'find it by key') : null,
            ' ',
            h('a', { href: `#/messages?mode=id&topic=${encodeURIComponent(topic)}&id=${encodeURIComponent(r.msgId)}` }, 'find it by id'),
          ),
        );
      })
      .catch((e: unknown) => mount(status, errorBox(e)));
  });
  return h('div', null, form, status);
}

export async function topicPage(main: HTMLElement, topic: string): Promise<void> {
  const t = await api<TopicDetailView>(`topics/${encodeURIComponent(topic)}`);
  const del = h('button', { class: 'danger', type: 'button', id: 'delete-topic' }, 'Delete topic');
  const delStatus = h('div');
  del.addEventListener('click', () => {
    if (!confirm(`Delete topic ${topic} from every broker and name server?`)) return;
    api<{ brokers: string[] }>(`topics/${encodeURIComponent(topic)}`, { method: 'DELETE' })
      .then(() => go('topics'))
      .catch((e: unknown) => mount(delStatus, errorBox(e)));
  });
  mount(
    main,
    h('p', null, h('a', { href: '#/topics' }, '← Topics')),
    h('h1', null, t.topic),
    h(
      'div',
      { class: 'stats' },
      h('div', { class: 'stat' }, h('b', null, t.totalMessages.toLocaleString('en-US')), h('span', null, 'messages stored')),
      h('div', { class: 'stat' }, h('b', null, t.queues.length), h('span', null, 'queues')),
      h('div', { class: 'stat' }, h('b', null, t.kind), h('span', null, 'kind')),
    ),
    h(
      'p',
      null,
      h('a', { href: `#/messages?mode=time&topic=${encodeURIComponent(topic)}` }, 'Browse messages'),
      ' · ',
      h('a', { href: `#/producers?topic=${encodeURIComponent(topic)}` }, 'Producers'),
    ),
    chartCard('topic-chart', 'Messages per second, last hour', `charts/topics/${encodeURIComponent(topic)}`, 'messages/s'),
    h('section', { class: 'card' }, h('h2', null, 'Send a test message'), sendForm(topic)),
    h(
      'section',
      { class: 'card' },
      h('h2', null, 'Route'),
      table(
        ['Cluster', 'Broker group', 'Addresses', ['Read queues', 'num'], ['Write queues', 'num'], 'Perm'],
        t.route.brokers.map((b) => {
          const q = t.route.queues.find((x) => x.brokerName === b.brokerName);
          return h(
            'tr',
            null,
            h('td', null, b.cluster),
            h('td', null, b.brokerName),
            h(
              'td',
              null,
              Object.entries(b.addrs)
                .map(([id, a]) => `${id === '0' ? 'master' : `slave ${id}`} ${a}`)
                .join(', '),
            ),
            q ? num(q.readQueueNums) : h('td'),
            q ? num(q.writeQueueNums) : h('td'),
            h('td', null, q ? ((q.perm & 6) === 6 ? 'RW' : q.perm & 4 ? 'R' : 'W') : ''),
          );
        }),
      ),
    ),
    h(
      'section',
      { class: 'card' },
      h('h2', null, 'Queues'),
      table(
        ['Queue', ['Messages', 'num'], ['Min offset', 'num'], ['Max offset', 'num'], 'Last store time'],
        t.queues.map((q) =>
          h(
            'tr',
            { 'data-queue': `${q.brokerName}/${q.queueId}` },
            h('td', null, `${q.brokerName} / ${q.queueId}`),
            num(q.maxOffset - q.minOffset),
            num(q.minOffset),
            num(q.maxOffset),
            h('td', null, fmtTime(q.lastStoreTime)),
          ),
        ),
      ),
    ),
    h(
      'section',
      { class: 'card' },
      h('h2', null, 'Update'),
      topicForm(() => go(`topics/${encodeURIComponent(topic)}`, { saved: String(Date.now()) }), t),
    ),
    h(
      'section',
      { class: 'card' },
      h('h2', null, 'Delete'),
      h('p', { class: 'muted' }, 'Removes the topic from every master broker and the name servers.'),
      del,
      delStatus,
    ),
  );
}
