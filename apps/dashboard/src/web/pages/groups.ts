import { chartCard } from '../charts.js';
import { clientSubscriptionsCard } from './group-clients.js';
import { api, fmtDuration, fmtTime, go, h, mount, num, table } from '../dom.js';
import type { GroupDetailView, GroupSummaryView } from '../views.js';

export async function groupsPage(main: HTMLElement, query: URLSearchParams): Promise<void> {
  const system = query.get('system') === 'true';
  const groups = await api<GroupSummaryView[]>(`groups${system ? '?system=true' : ''}`);
  const box = h('input', { type: 'checkbox', checked: system });
  box.addEventListener('change', () => go('groups', box.checked ? { system: 'true' } : {}));
  mount(
    main,
    h('h1', null, 'Consumer groups'),
    h(
      'section',
      { class: 'card' },
      h('div', { class: 'toolbar' }, h('label', null, box, ' show system groups')),
      table(
        ['Group', 'State', ['Clients', 'num'], 'Model', 'Type', 'Topics', ['Lag (messages)', 'num'], ['Consume TPS', 'num']],
        groups.map((g) =>
          h(
            'tr',
            { class: 'clickable', 'data-group': g.group, onclick: () => go(`groups/${encodeURIComponent(g.group)}`) },
            h('td', null, h('a', { href: `#/groups/${encodeURIComponent(g.group)}` }, g.group)),
            h('td', null, h('span', { class: `flag ${g.online ? 'ok' : 'warn'}` }, g.online ? 'online' : 'offline')),
            num(g.clients),
            h('td', null, g.messageModel || '-'),
            h('td', null, g.consumeType || '-'),
            h('td', null, g.topics.join(', ') || '-'),
            h('td', { class: 'num lag' }, g.lag.toLocaleString('en-US')),
            h('td', { class: 'num' }, g.consumeTps.toFixed(1)),
          ),
        ),
        'no consumer group',
      ),
    ),
  );
}

export async function groupPage(main: HTMLElement, group: string): Promise<void> {
  const g = await api<GroupDetailView>(`groups/${encodeURIComponent(group)}`);
  const consistency = !g.online
    ? h('span', { class: 'flag warn' }, 'no client online')
    : g.subscriptionConsistent
      ? h('span', { class: 'flag ok', id: 'subscription-flag' }, 'subscriptions consistent')
      : h('span', { class: 'flag bad', id: 'subscription-flag' }, 'subscriptions differ between clients');
  mount(
    main,
    h('p', null, h('a', { href: '#/groups' }, '← Consumer groups')),
    h('h1', null, g.group),
    h(
      'div',
      { class: 'stats' },
      h('div', { class: 'stat' }, h('b', { id: 'group-lag' }, g.lag.toLocaleString('en-US')), h('span', null, 'messages behind')),
      h('div', { class: 'stat' }, h('b', null, fmtDuration(g.maxLagMillis)), h('span', null, 'oldest waiting')),
      h('div', { class: 'stat' }, h('b', null, g.connections.length), h('span', null, 'clients')),
      h('div', { class: 'stat' }, h('b', null, g.consumeTps.toFixed(1)), h('span', null, 'consume TPS')),
    ),
    chartCard('group-chart', 'Lag, last hour', `charts/groups/${encodeURIComponent(group)}`, 'messages behind'),
    clientSubscriptionsCard(group, (v) => {
      // What the clients say beats what the brokers' last heartbeats say.
      if (!v.consistent) consistency.replaceWith(h('span', { class: 'flag bad', id: 'subscription-flag' }, 'subscriptions differ between clients'));
    }),
    h(
      'section',
      { class: 'card' },
      h('h2', null, 'Clients ', consistency, g.clientVersionsDiffer ? h('span', { class: 'flag warn' }, ' client versions differ') : null),
      g.online ? h('p', { class: 'muted' }, `${g.messageModel} · ${g.consumeType} · ${g.consumeFromWhere}`) : null,
      table(
        ['Client ID', 'Address', 'Language', 'Version'],
        g.connections.map((c) =>
          h('tr', null, h('td', null, c.clientId), h('td', null, c.clientAddr), h('td', null, c.language), h('td', null, c.versionDesc || String(c.version))),
        ),
        'no client connected',
      ),
      h('h2', null, 'Subscriptions'),
      table(
        ['Broker', 'Topic', 'Expression', 'Type'],
        g.subscriptionsByBroker.flatMap((b) =>
          b.subscriptions.map((s) =>
            h('tr', null, h('td', null, b.brokerName), h('td', null, s.topic), h('td', null, s.subString), h('td', null, s.expressionType)),
          ),
        ),
        'no subscription known (no client online)',
      ),
    ),
    h(
      'section',
      { class: 'card' },
      h('h2', null, 'Consume progress'),
      table(
        // Lag first: on a phone the columns past the first few need a sideways scroll.
        ['Topic', 'Queue', ['Lag', 'num'], ['Lag (time)', 'num'], ['Broker offset', 'num'], ['Consumer offset', 'num'], 'Last consumed message stored'],
        g.queues.map((q) =>
          h(
            'tr',
            { 'data-queue': `${q.topic}/${q.brokerName}/${q.queueId}` },
            h('td', null, q.topic),
            h('td', null, `${q.brokerName} / ${q.queueId}`),
            h('td', { class: 'num lag' }, q.lag > 0 ? h('span', { class: 'flag warn' }, q.lag.toLocaleString('en-US')) : '0'),
            h('td', { class: 'num' }, fmtDuration(q.lagMillis)),
            num(q.brokerOffset),
            num(q.consumerOffset),
            h('td', null, fmtTime(q.lastConsumedStoreTime)),
          ),
        ),
        'the brokers keep no offsets of this group',
      ),
    ),
  );
}
