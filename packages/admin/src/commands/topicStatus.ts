import { opt, type Command } from '../command.js';
import { formatTable, formatTime, toJson } from '../format.js';

export const topicStatus: Command = {
  name: 'topicStatus',
  desc: 'Examine topic Status info',
  opts: [opt('t', 'topic', 'topic name', true), opt('c', 'cluster', 'cluster name or lmq parent topic, lmq is used to find the route.')],
  async run(ctx) {
    const stats = await ctx.admin.topicStats(ctx.opt('t')!);
    if (ctx.json) {
      ctx.io.out(
        toJson(
          stats.map((s) => ({
            brokerName: s.mq.brokerName,
            queueId: s.mq.queueId,
            minOffset: s.minOffset,
            maxOffset: s.maxOffset,
            lastUpdateTimestamp: s.lastUpdateTimestamp,
          })),
        ),
      );
    } else {
      ctx.io.out(
        formatTable(
          ['#Broker Name', '#QID', '#Min Offset', '#Max Offset', '#Last Updated'],
          stats.map((s) => [s.mq.brokerName, s.mq.queueId, s.minOffset, s.maxOffset, formatTime(s.lastUpdateTimestamp)]),
        ),
      );
    }
  },
};
