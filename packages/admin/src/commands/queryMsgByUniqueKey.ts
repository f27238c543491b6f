import { opt, type Command } from '../command.js';
import { printMessages } from '../print.js';

export const queryMsgByUniqueKey: Command = {
  name: 'queryMsgByUniqueKey',
  desc: 'Query Message by Unique key',
  opts: [opt('i', 'msgId', 'Message Id', true), opt('t', 'topic', 'The topic of msg', true)],
  async run(ctx) {
    const list = await ctx.admin.queryMessageByUniqueKey(ctx.opt('t')!, ctx.opt('i')!);
    printMessages(ctx, list);
  },
};
