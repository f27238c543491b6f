import { opt, type Command } from '../command.js';
import { toJson } from '../format.js';

export const deleteTopic: Command = {
  name: 'deleteTopic',
  desc: 'Delete topic from broker and NameServer',
  opts: [opt('t', 'topic', 'topic name', true), opt('c', 'clusterName', 'delete topic from which cluster')],
  async run(ctx) {
    const topic = ctx.opt('t')!;
    const brokers = await ctx.admin.deleteTopic(topic, ctx.opt('c'));
    ctx.io.out(
      ctx.json
        ? toJson({ topic, brokers, namesrv: ctx.namesrv })
        : `delete topic [${topic}] from cluster [${ctx.opt('c') ?? '*'}] success.\ndelete topic [${topic}] from NameServer success.\n`,
    );
  },
};
