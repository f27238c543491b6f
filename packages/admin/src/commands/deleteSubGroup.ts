import { bool, opt, targets, type Command } from '../command.js';
import { toJson } from '../format.js';

export const deleteSubGroup: Command = {
  name: 'deleteSubGroup',
  desc: 'Delete subscription group from broker',
  opts: [
    opt('b', 'brokerAddr', 'delete subscription group from which broker'),
    opt('c', 'clusterName', 'delete subscription group from which cluster'),
    opt('g', 'groupName', 'subscription group name', true),
    opt('r', 'removeOffset', 'remove offset'),
  ],
  async run(ctx) {
    const group = ctx.opt('g')!;
    const addrs = await targets(ctx);
    for (const addr of addrs) await ctx.admin.deleteSubGroup(addr, group, bool(ctx.opt('r'), false));
    ctx.io.out(ctx.json ? toJson({ group, brokers: addrs }) : addrs.map((a) => `delete subscription group [${group}] from broker [${a}] success.\n`).join(''));
  },
};
