import { opt, type Command } from '../command.js';
import { formatTable, toJson } from '../format.js';

export const topicList: Command = {
  name: 'topicList',
  desc: 'Fetch all topic list from name server',
  opts: [opt('c', 'clusterModel', 'show with cluster info', false, true)],
  async run(ctx) {
    const topics = (await ctx.admin.topicList()).sort();
    if (!ctx.has('c')) {
      ctx.io.out(ctx.json ? toJson(topics) : topics.map((t) => t + '\n').join(''));
      return;
    }
    const rows: Array<[string, string]> = [];
    for (const t of topics) {
      let cluster = '';
      try {
        const r = await ctx.admin.topicRoute(t);
        cluster = [...new Set(r.brokerDatas.map((b) => b.cluster))].join(',');
      } catch {
        // route gone meanwhile
      }
      rows.push([cluster, t]);
    }
    ctx.io.out(ctx.json ? toJson(rows.map(([cluster, topic]) => ({ cluster, topic }))) : formatTable(['#Cluster Name', '#Topic'], rows));
  },
};
