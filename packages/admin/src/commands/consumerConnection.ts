import { opt, type Command } from '../command.js';
import { formatTable, toJson } from '../format.js';

export const consumerConnection: Command = {
  name: 'consumerConnection',
  desc: "Query consumer's socket connection, client version and subscription",
  opts: [opt('g', 'consumerGroup', 'consumer group name', true), opt('b', 'brokerAddr', 'broker address')],
  async run(ctx) {
    const cc = await ctx.admin.consumerConnection(ctx.opt('g')!, ctx.opt('b'));
    if (ctx.json) {
      ctx.io.out(toJson(cc));
      return;
    }
    ctx.io.out(
      formatTable(
        ['#Id', '#ClientId', '#ClientAddr', '#Language', '#Version'],
        cc.connections.map((c, i) => [i + 1, c.clientId, c.clientAddr, c.language, c.version]),
      ),
    );
    ctx.io.out('\nBelow is subscription:\n');
    ctx.io.out(
      formatTable(
        ['#Id', '#Topic', '#SubExpression'],
        cc.subscriptions.map((s, i) => [i + 1, s.topic, s.subString]),
      ),
    );
    ctx.io.out(`\nConsumeType: ${cc.consumeType}\nMessageModel: ${cc.messageModel}\nConsumeFromWhere: ${cc.consumeFromWhere}\n`);
  },
};
