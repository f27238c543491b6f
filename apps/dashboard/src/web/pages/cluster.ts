import { chartCard } from '../charts.js';
import { api, errorBox, fmtBytes, fmtTime, h, mount, num, table } from '../dom.js';
import type { BrokerView, ClusterView } from '../views.js';

function diskCell(b: BrokerView): HTMLTableCellElement {
  if (b.diskUsedRatio === null) return h('td', { class: 'num muted' }, '-');
  const pct = Math.round(b.diskUsedRatio * 1000) / 10;
  return h('td', { class: 'num' }, h('span', { class: `flag ${pct >= 90 ? 'bad' : pct >= 75 ? 'warn' : 'ok'}` }, `${pct}%`));
}

function lagCell(b: BrokerView): HTMLTableCellElement {
  if (b.brokerId === 0) return h('td', { class: 'num muted' }, '-');
  if (b.haConnected === false) return h('td', { class: 'num' }, h('span', { class: 'flag bad' }, 'not connected'));
  if (b.replicationLagBytes === null) return h('td', { class: 'num muted' }, '?');
  return h('td', { class: 'num' }, h('span', { class: `flag ${b.replicationLagBytes > 1024 * 1024 ? 'warn' : 'ok'}` }, fmtBytes(b.replicationLagBytes)));
}

export async function clusterPage(main: HTMLElement): Promise<void> {
  const c = await api<ClusterView>('cluster');
  const brokers = c.clusters.flatMap((x) => x.brokerGroups.flatMap((g) => g.brokers));
  const put = brokers.reduce((n, b) => n + b.putTps, 0);
  const get = brokers.reduce((n, b) => n + b.getTps, 0);
  mount(
    main,
    h('h1', null, 'Cluster'),
    h(
      'div',
      { class: 'stats' },
      h(
        'div',
        { class: 'stat' },
        h(
          'b',
          { id: 'stat-groups' },
          c.clusters.reduce((n, x) => n + x.brokerGroups.length, 0),
        ),
        h('span', null, 'broker groups'),
      ),
      h('div', { class: 'stat' }, h('b', null, brokers.length), h('span', null, 'brokers')),
      h('div', { class: 'stat' }, h('b', null, put.toFixed(1)), h('span', null, 'in TPS')),
      h('div', { class: 'stat' }, h('b', null, get.toFixed(1)), h('span', null, 'out TPS')),
    ),
    h('p', { class: 'muted' }, `Name servers: ${c.namesrvAddr}`),
    chartCard('cluster-chart', 'Messages per second, last hour', 'charts/cluster', 'messages/s'),
    c.clusters.length === 0 ? h('p', { class: 'muted' }, 'No broker is registered with the name servers.') : null,
    c.clusters.map((cl) =>
      h(
        'section',
        { class: 'card' },
        h('h2', null, `Cluster ${cl.name}`),
        table(
          [
            'Broker group',
            'ID',
            'Role',
            'Address',
            'Version',
            ['In TPS', 'num'],
            ['Out TPS', 'num'],
            ['In today', 'num'],
            ['Out today', 'num'],
            ['Disk', 'num'],
            ['Replication lag', 'num'],
            'Up since',
          ],
          cl.brokerGroups.flatMap((g) =>
            g.brokers.map((b) =>
              h(
                'tr',
                { 'data-broker': `${b.brokerName}/${b.brokerId}` },
                h('td', null, h('b', null, b.brokerName)),
                h('td', null, b.brokerId),
                h('td', null, b.error ? h('span', { class: 'flag bad', title: b.error }, 'unreachable') : b.role),
                h('td', null, b.addr),
                h('td', null, b.version || '-'),
                h('td', { class: 'num' }, b.putTps.toFixed(1)),
                h('td', { class: 'num' }, b.getTps.toFixed(1)),
                num(b.msgPutTotalToday),
                num(b.msgGetTotalToday),
                diskCell(b),
                lagCell(b),
                h('td', null, fmtTime(b.bootTimestamp)),
              ),
            ),
          ),
        ),
        cl.brokerGroups.flatMap((g) => g.brokers.filter((b) => b.error).map((b) => errorBox(`${b.brokerName}/${b.brokerId} ${b.addr}: ${b.error}`))),
      ),
    ),
  );
}
