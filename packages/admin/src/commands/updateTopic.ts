import { perm2String } from '@rocketmq-ts/protocol';
import { bool, int, opt, targets, type Command } from '../command.js';
import { toJson } from '../format.js';

export const updateTopic: Command = {
  name: 'updateTopic',
  desc: 'Update or create topic',
  opts: [
    opt('b', 'brokerAddr', 'create topic to which broker'),
    opt('c', 'clusterName', 'create topic to which cluster'),
    opt('t', 'topic', 'topic name', true),
    opt('r', 'readQueueNums', 'set read queue nums'),
    opt('w', 'writeQueueNums', 'set write queue nums'),
    opt('p', 'perm', "set topic's permission(2|4|6), intro[2:W 4:R; 6:RW]"),
    opt('o', 'order', "set topic's order(true|false)"),
    opt('a', 'attributes', 'attribute(+a=b,+c=d,-e)'),
  ],
  async run(ctx) {
    const cfg = {
      topic: ctx.opt('t')!,
      readQueueNums: int(ctx.opt('r'), 8, 'readQueueNums'),
      writeQueueNums: int(ctx.opt('w'), 8, 'writeQueueNums'),
      perm: int(ctx.opt('p'), 6, 'perm'),
      order: bool(ctx.opt('o'), false),
      ...(ctx.opt('a') ? { attributes: ctx.opt('a')! } : {}),
    };
    const addrs = await targets(ctx);
    for (const addr of addrs) {
      await ctx.admin.createOrUpdateTopic(addr, cfg);
      if (!ctx.json) ctx.io.out(`create topic to ${addr} success.\n`);
    }
    ctx.io.out(
      ctx.json
        ? toJson({ brokers: addrs, topicConfig: cfg })
        : `TopicConfig [topicName=${cfg.topic}, readQueueNums=${cfg.readQueueNums}, writeQueueNums=${cfg.writeQueueNums}, perm=${perm2String(cfg.perm)}, order=${cfg.order}]\n`,
    );
  },
};
