import { MixAll } from '@rocketmq-ts/protocol';
import { opt, type Command, type CommandContext } from '../command.js';
import { formatTable, formatTime, toJson } from '../format.js';

export const consumerProgress: Command = {
  name: 'consumerProgress',
  desc: "Query consumers's progress, speed",
  opts: [opt('g', 'groupName', 'consumer group name'), opt('t', 'topicName', 'topic name'), opt('c', 'cluster', 'Cluster name')],
  async run(ctx) {
    const group = ctx.opt('g');
    if (group) await groupProgress(ctx, group);
    else await allGroups(ctx);
  },
};

/** Lag per queue of one group. */
async function groupProgress(ctx: CommandContext, group: string): Promise<void> {
  const { queues: stats, consumeTps } = await ctx.admin.consumeStatsWithTps(group, ctx.opt('t'), ctx.opt('c'));
  const diffTotal = stats.reduce((s, x) => s + x.lag, 0);
  if (ctx.json) {
    ctx.io.out(
      toJson({
        group,
        diffTotal,
        consumeTps,
        queues: stats.map((s) => ({
          topic: s.mq.topic,
          brokerName: s.mq.brokerName,
          queueId: s.mq.queueId,
          brokerOffset: s.brokerOffset,
          consumerOffset: s.consumerOffset,
          diff: s.lag,
          lastTimestamp: s.lastTimestamp,
        })),
      }),
    );
    return;
  }
  ctx.io.out(
    formatTable(
      ['#Topic', '#Broker Name', '#QID', '#Broker Offset', '#Consumer Offset', '#Diff', '#LastTime'],
      stats.map((s) => [s.mq.topic, s.mq.brokerName, s.mq.queueId, s.brokerOffset, s.consumerOffset, s.lag, formatTime(s.lastTimestamp)]),
    ),
  );
  ctx.io.out(`\nConsume TPS: ${consumeTps.toFixed(2)}\nDiff Total: ${diffTotal}\n`);
}

/** One line per group: every group that has a retry topic. */
async function allGroups(ctx: CommandContext): Promise<void> {
  const groups = (await ctx.admin.topicList())
    .filter((t) => t.startsWith(MixAll.RETRY_GROUP_TOPIC_PREFIX))
    .map((t) => t.slice(MixAll.RETRY_GROUP_TOPIC_PREFIX.length))
    .sort();
  const rows: Array<Record<string, string | number>> = [];
  for (const g of groups) {
    let count = 0;
    let model = '';
    try {
      const cc = await ctx.admin.consumerConnection(g);
      count = cc.connections.length;
      model = cc.messageModel;
    } catch {
      // offline group
    }
    const diff = (await ctx.admin.consumeStats(g).catch(() => [])).reduce((s, x) => s + x.lag, 0);
    rows.push({ group: g, count, model, diffTotal: diff });
  }
  ctx.io.out(
    ctx.json
      ? toJson(rows)
      : formatTable(
          ['#Group', '#Count', '#Model', '#Diff Total'],
          rows.map((r) => [r['group'], r['count'], r['model'], r['diffTotal']]),
        ),
  );
}
