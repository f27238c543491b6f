// "Where is my message": one message id → where it is stored, which groups consumed past it, its
// retry and dead-letter copies, and its transaction or timer state (GET /api/messages/:id/where).
import { api, errorBox, field, fmtTime, formValues, go, h, loading, mount, table } from '../dom.js';
import type { StoredCopyView, WhereIsMessageView } from '../views.js';

const kv = (pairs: Array<[string, string | number | undefined]>): HTMLElement =>
  h(
    'dl',
    { class: 'kv' },
    pairs.flatMap(([k, v]) => [h('dt', null, k), h('dd', null, v === undefined || v === '' ? '-' : String(v))]),
  );

const badge = (text: string, tone: 'ok' | 'warn' | 'muted'): HTMLElement => h('span', { class: tone === 'muted' ? 'flag' : `flag ${tone}` }, text);

function stored(l: StoredCopyView, r: WhereIsMessageView): HTMLElement {
  return kv([
    ['Topic', r.topic],
    ['Stored in', l.realTopic ? `${l.topic} (for ${l.realTopic})` : l.topic],
    ['Broker', `${l.brokerName} (${l.brokerAddr})`],
    ['Queue / offset', `${l.queueId} / ${l.queueOffset}`],
    ['Commit log offset', l.commitLogOffset],
    ['Offset message ID', l.offsetMsgId],
    ['Unique key', r.uniqKey],
    ['Keys', r.keys.join(' ')],
    ['Tags', r.tags],
    ['Stored', fmtTime(l.storeTimestamp)],
    ['Born', fmtTime(l.bornTimestamp)],
  ]);
}

function view(r: WhereIsMessageView): HTMLElement {
  const out = h('div', { id: 'where-result' });
  if (!r.found || !r.location) {
    mount(
      out,
      h(
        'section',
        { class: 'card', id: 'where-location' },
        h('h2', null, 'Not found'),
        r.notes.map((n) => h('p', { class: 'muted' }, n)),
      ),
    );
    return out;
  }
  const l = r.location;
  const sections: HTMLElement[] = [
    h('section', { class: 'card', id: 'where-location' }, h('h2', null, 'Stored at'), stored(l, r)),
    h(
      'section',
      { class: 'card', id: 'where-groups' },
      h('h2', null, 'Consumer groups'),
      table(
        ['Group', 'State', ['Committed offset', 'num']],
        r.groups.map((g) =>
          h(
            'tr',
            { 'data-group': g.group },
            h('td', null, h('a', { href: `#/groups/${encodeURIComponent(g.group)}` }, g.group)),
            h('td', null, badge(g.state, g.state === 'consumed' ? 'ok' : g.state === 'not consumed yet' ? 'warn' : 'muted')),
            h('td', { class: 'num' }, g.consumerOffset < 0 ? '-' : g.consumerOffset.toLocaleString('en-US')),
          ),
        ),
        'no group consumes this topic',
      ),
    ),
    h(
      'section',
      { class: 'card', id: 'where-retries' },
      h('h2', null, 'Retry and dead-letter copies'),
      table(
        ['Group', 'Kind', 'Topic', ['Reconsume times', 'num'], 'Stored'],
        r.retries.map((x) =>
          h(
            'tr',
            { 'data-kind': x.kind },
            h('td', null, x.group),
            h('td', null, badge(x.kind, x.kind === 'dlq' ? 'warn' : 'muted')),
            h('td', null, x.realTopic ? `${x.topic} → ${x.realTopic}` : x.topic),
            h('td', { class: 'num' }, x.reconsumeTimes),
            h('td', null, fmtTime(x.storeTimestamp)),
          ),
        ),
        'no retry or dead-letter copy',
      ),
    ),
  ];
  if (r.transaction) {
    sections.push(
      h(
        'section',
        { class: 'card', id: 'where-transaction' },
        h('h2', null, 'Transaction'),
        kv([
          ['State', r.transaction.state],
          ['Detail', r.transaction.detail],
        ]),
      ),
    );
  }
  if (r.timer) {
    sections.push(
      h(
        'section',
        { class: 'card', id: 'where-timer' },
        h('h2', null, 'Timer'),
        kv([
          ['State', r.timer.state],
          ['Deliver at', r.timer.deliverAtMs >= 0 ? fmtTime(r.timer.deliverAtMs) : undefined],
          ['Delay level', r.timer.delayLevel || undefined],
          ['Detail', r.timer.detail],
        ]),
      ),
    );
  }
  if (r.copies.length > 1) {
    sections.push(
      h(
        'section',
        { class: 'card', id: 'where-copies' },
        h('h2', null, 'All copies'),
        table(
          ['Topic', 'Broker', 'Queue', ['Commit log offset', 'num'], 'Stored'],
          r.copies.map((c) =>
            h(
              'tr',
              null,
              h('td', null, c.realTopic ? `${c.topic} → ${c.realTopic}` : c.topic),
              h('td', null, c.brokerName),
              h('td', null, `${c.queueId}/${c.queueOffset}`),
              h('td', { class: 'num' }, c.commitLogOffset),
              h('td', null, fmtTime(c.storeTimestamp)),
            ),
          ),
        ),
      ),
    );
  }
  if (r.notes.length > 0) {
    sections.push(
      h(
        'section',
        { class: 'card', id: 'where-notes' },
        h('h2', null, 'Notes'),
        r.notes.map((n) => h('p', { class: 'muted' }, n)),
      ),
    );
  }
  mount(out, sections);
  return out;
}

export async function wherePage(main: HTMLElement, msgId: string, query: URLSearchParams): Promise<void> {
  const topic = query.get('topic') ?? '';
  const form = h(
    'form',
    { class: 'inline', id: 'where-search' },
    field('Message ID', h('input', { name: 'id', required: true, value: msgId, size: 34 })),
    field('Topic (for client IDs)', h('input', { name: 'topic', value: topic, placeholder: 'TopicName' })),
    h('button', { type: 'submit' }, 'Find'),
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const v = formValues(form);
    go(`where/${encodeURIComponent(v['id'] ?? '')}`, v['topic'] ? { topic: v['topic'] } : {});
  });
  const result = h('div');
  mount(main, h('h1', null, 'Where is message ', h('code', null, msgId)), h('section', { class: 'card' }, form), result);
  mount(result, loading());
  try {
    const params = new URLSearchParams();
    if (topic) params.set('topic', topic);
    const r = await api<WhereIsMessageView>(`messages/${encodeURIComponent(msgId)}/where${topic ? `?${params}` : ''}`);
    mount(result, view(r));
  } catch (e) {
    mount(result, errorBox(e));
  }
}
