import type { ReceivedMessage } from '@rocketmq-ts/client';
import { opt, type Command } from '../command.js';
import { printMessages } from '../print.js';

export const queryMsgById: Command = {
  name: 'queryMsgById',
  desc: 'Query Message by Id',
  opts: [opt('i', 'msgId', 'Message Id (comma separated for several)', true), opt('t', 'topic', 'topic name (to look the id up as a unique key)')],
  async run(ctx) {
    const out: ReceivedMessage[] = [];
    for (const id of ctx
      .opt('i')!
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)) {
      out.push(...(await ctx.admin.viewMessage(id, ctx.opt('t'))));
    }
    printMessages(ctx, out);
  },
};
