import { bool, opt, parseTimestamp, type Command } from '../command.js';
import { formatTable, toJson } from '../format.js';

export const resetOffsetByTime: Command = {
  name: 'resetOffsetByTime',
  desc: 'Reset consumer offset by timestamp(without client restart)',
  opts: [
    opt('g', 'group', 'set the consumer group', true),
    opt('t', 'topic', 'set the topic', true),
    opt('s', 'timestamp', 'set the timestamp[now|currentTimeMillis|yyyy-MM-dd#HH:mm:ss:SSS]', true),
    opt('f', 'force', 'set the force rollback by timestamp switch[true|false]'),
    opt('d', 'dryRun', 'print per queue the committed and target offsets and the messages skipped or replayed; change nothing', false, true),
  ],
  async run(ctx) {
    const ts = parseTimestamp(ctx.opt('s')!);
    if (ctx.has('d')) {
      const plan = await ctx.admin.previewResetOffsetByTime(ctx.opt('g')!, ctx.opt('t')!, ts, bool(ctx.opt('f'), true));
      const skipped = plan.reduce((n, q) => n + Math.max(0, q.delta), 0);
      const replayed = plan.reduce((n, q) => n + Math.max(0, -q.delta), 0);
      if (ctx.json) {
        ctx.io.out(
          toJson({
            dryRun: true,
            skipped,
            replayed,
            queues: plan.map((q) => ({
              brokerName: q.mq.brokerName,
              queueId: q.mq.queueId,
              consumerOffset: q.consumerOffset,
              targetOffset: q.targetOffset,
              delta: q.delta,
            })),
          }),
        );
      } else {
        ctx.io.out(
          `dry run, nothing changed: group[${ctx.opt('g')}], topic[${ctx.opt('t')}], timestamp(long)[${ts}]\n` +
            formatTable(
              ['#brokerName', '#queueId', '#consumerOffset', '#targetOffset', '#delta'],
              plan.map((q) => [q.mq.brokerName, q.mq.queueId, q.consumerOffset, q.targetOffset, q.delta]),
            ) +
            `skipped: ${skipped}, replayed: ${replayed}\n`,
        );
      }
      return;
    }
    const table = await ctx.admin.resetOffsetByTime(ctx.opt('g')!, ctx.opt('t')!, ts, bool(ctx.opt('f'), true));
    if (ctx.json) {
      ctx.io.out(toJson(table.map(([mq, offset]) => ({ brokerName: mq.brokerName, queueId: mq.queueId, offset }))));
    } else {
      ctx.io.out(
        `rollback consumer offset by specified group[${ctx.opt('g')}], topic[${ctx.opt('t')}], timestamp(string)[${ctx.opt('s')}], timestamp(long)[${ts}]\n` +
          formatTable(
            ['#brokerName', '#queueId', '#offset'],
            table.map(([mq, o]) => [mq.brokerName, mq.queueId, o]),
          ),
      );
    }
  },
};
