import type { Command } from '../command.js';
import { toJson } from '../format.js';
import { configText } from '../print.js';

export const getNamesrvConfig: Command = {
  name: 'getNamesrvConfig',
  desc: 'Get configs of name server.',
  opts: [],
  async run(ctx) {
    const all = await ctx.admin.namesrvConfig();
    if (ctx.json) {
      ctx.io.out(toJson(all));
      return;
    }
    for (const [addr, cfg] of all) ctx.io.out(configText(addr, cfg));
  },
};
