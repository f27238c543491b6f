import { int, opt, parseTimestamp, type Command } from '../command.js';
import { formatTable, toJson } from '../format.js';
import { messageJson } from '../print.js';

export const queryMsgByKey: Command = {
  name: 'queryMsgByKey',
  desc: 'Query Message by Key',
  opts: [
    opt('t', 'topic', 'topic name', true),
    opt('k', 'msgKey', 'Message Key', true),
    opt('b', 'beginTimestamp', 'Begin timestamp(ms). default:0'),
    opt('e', 'endTimestamp', 'End timestamp(ms). default: now'),
    opt('m', 'maxNum', 'The maximum number of messages returned by the query, default:64'),
  ],
  async run(ctx) {
    const list = await ctx.admin.queryMessageByKey(
      ctx.opt('t')!,
      ctx.opt('k')!,
      ctx.opt('b') ? parseTimestamp(ctx.opt('b')!) : 0,
      ctx.opt('e') ? parseTimestamp(ctx.opt('e')!) : Number.MAX_SAFE_INTEGER,
      int(ctx.opt('m'), 64, 'maxNum'),
    );
    if (ctx.json) {
      ctx.io.out(toJson(list.map(messageJson)));
    } else {
      ctx.io.out(
        formatTable(
          ['#Message ID', '#QID', '#Offset'],
          list.map((m) => [m.msgId, m.queueId, m.queueOffset]),
        ),
      );
    }
  },
};
