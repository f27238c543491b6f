import { opt, type Command } from '../command.js';
import { formatTable, toJson } from '../format.js';

export const producerConnection: Command = {
  name: 'producerConnection',
  desc: "Query producer's socket connection and client version",
  opts: [opt('g', 'producerGroup', 'producer group name', true), opt('t', 'topic', 'topic name', true)],
  async run(ctx) {
    const list = await ctx.admin.producerConnection(ctx.opt('g')!, ctx.opt('t')!);
    ctx.io.out(
      ctx.json
        ? toJson(list)
        : formatTable(
            ['#Id', '#ClientId', '#ClientAddr', '#Language', '#Version'],
            list.map((c, i) => [i + 1, c.clientId, c.clientAddr, c.language, c.version]),
          ),
    );
  },
};
