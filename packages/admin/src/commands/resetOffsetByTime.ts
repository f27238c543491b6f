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
  ],
  async run(ctx) {
    const ts = parseTimestamp(ctx.opt('s')!);
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
