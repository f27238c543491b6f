import { bool, int, opt, targets, type Command } from '../command.js';
import { formatKeyValues, toJson } from '../format.js';

export const updateSubGroup: Command = {
  name: 'updateSubGroup',
  desc: 'Update or create subscription group',
  opts: [
    opt('b', 'brokerAddr', 'create subscription group to which broker'),
    opt('c', 'clusterName', 'create subscription group to which cluster'),
    opt('g', 'groupName', 'consumer group name', true),
    opt('s', 'consumeEnable', 'consume enable'),
    opt('m', 'consumeFromMinEnable', 'from min offset'),
    opt('d', 'consumeBroadcastEnable', 'broadcast'),
    opt('o', 'consumeMessageOrderly', 'consume message orderly'),
    opt('q', 'retryQueueNums', 'retry queue nums'),
    opt('r', 'retryMaxTimes', 'retry max times'),
    opt('i', 'brokerId', 'consumer from which broker id'),
    opt('w', 'whichBrokerWhenConsumeSlowly', 'which broker id when consume slowly'),
    opt('a', 'notifyConsumerIdsChanged', 'notify consumerId changed'),
  ],
  async run(ctx) {
    const g = {
      groupName: ctx.opt('g')!,
      consumeEnable: bool(ctx.opt('s'), true),
      consumeFromMinEnable: bool(ctx.opt('m'), true),
      consumeBroadcastEnable: bool(ctx.opt('d'), true),
      consumeMessageOrderly: bool(ctx.opt('o'), false),
      retryQueueNums: int(ctx.opt('q'), 1, 'retryQueueNums'),
      retryMaxTimes: int(ctx.opt('r'), 16, 'retryMaxTimes'),
      brokerId: int(ctx.opt('i'), 0, 'brokerId'),
      whichBrokerWhenConsumeSlowly: int(ctx.opt('w'), 1, 'whichBrokerWhenConsumeSlowly'),
      notifyConsumerIdsChangedEnable: bool(ctx.opt('a'), true),
    };
    const addrs = await targets(ctx);
    for (const addr of addrs) {
      await ctx.admin.createOrUpdateSubGroup(addr, g);
      if (!ctx.json) ctx.io.out(`create subscription group to ${addr} success.\n`);
    }
    if (ctx.json) ctx.io.out(toJson({ brokers: addrs, subscriptionGroupConfig: g }));
    else ctx.io.out(formatKeyValues(Object.entries(g)));
  },
};
