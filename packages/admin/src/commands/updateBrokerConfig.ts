import { opt, targets, type Command } from '../command.js';
import { toJson } from '../format.js';

export const updateBrokerConfig: Command = {
  name: 'updateBrokerConfig',
  desc: "Update broker's config",
  opts: [
    opt('b', 'brokerAddr', 'update which broker'),
    opt('c', 'clusterName', 'update which cluster'),
    opt('k', 'key', 'config key', true),
    opt('v', 'value', 'config value', true),
  ],
  async run(ctx) {
    const addrs = await targets(ctx);
    for (const addr of addrs) {
      await ctx.admin.updateBrokerConfig(addr, { [ctx.opt('k')!]: ctx.opt('v')! });
      if (!ctx.json) ctx.io.out(`update broker config success, ${addr}\n`);
    }
    if (ctx.json) ctx.io.out(toJson({ brokers: addrs, key: ctx.opt('k'), value: ctx.opt('v') }));
  },
};
