import { opt, type Command } from '../command.js';
import { formatTable, toJson } from '../format.js';

export const clusterList: Command = {
  name: 'clusterList',
  desc: 'List cluster infos',
  opts: [opt('m', 'moreStats', 'Print more stats', false, true), opt('c', 'clusterName', 'which cluster')],
  async run(ctx) {
    const ci = await ctx.admin.clusterInfo();
    const rows: Array<Record<string, string | number>> = [];
    for (const [cluster, names] of [...ci.clusterAddrTable].sort((a, b) => a[0].localeCompare(b[0]))) {
      if (ctx.opt('c') && cluster !== ctx.opt('c')) continue;
      for (const name of [...names].sort()) {
        const bd = ci.brokerAddrTable.get(name);
        for (const [id, addr] of [...(bd?.brokerAddrs ?? new Map<number, string>())].sort((a, b) => a[0] - b[0])) {
          let info = new Map<string, string>();
          try {
            info = await ctx.admin.brokerRuntimeInfo(addr);
          } catch {
            // unreachable broker: print what the name server knows
          }
          rows.push({
            cluster,
            brokerName: name,
            brokerId: id,
            addr,
            version: info.get('brokerVersionDesc') ?? '',
            inTotalToday: info.get('msgPutTotalTodayNow') ?? '',
            outTotalToday: info.get('msgGetTotalTodayNow') ?? '',
            activated: info.get('brokerActive') ?? '',
          });
        }
      }
    }
    if (ctx.json) {
      ctx.io.out(toJson(rows));
    } else {
      ctx.io.out(
        formatTable(
          ['#Cluster Name', '#Broker Name', '#BID', '#Addr', '#Version', '#InTotalToday', '#OutTotalToday', '#Activated'],
          rows.map((r) => [r['cluster'], r['brokerName'], r['brokerId'], r['addr'], r['version'], r['inTotalToday'], r['outTotalToday'], r['activated']]),
        ),
      );
    }
  },
};
