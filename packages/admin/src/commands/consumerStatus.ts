import type { ConsumerRunningInfo } from '../consumer-running-info.js';
import { opt, type Command } from '../command.js';
import { formatTable, toJson } from '../format.js';

/** A client's subscriptions as one comparable text. */
export const subscriptionKey = (info: ConsumerRunningInfo): string => JSON.stringify(info.subscriptions.map((s) => [s.topic, s.expressionType, s.subString]));

export const consumerStatus: Command = {
  name: 'consumerStatus',
  desc: "Query each consumer client's own view: subscriptions, queues and properties; flags clients that subscribe differently",
  opts: [
    opt('g', 'consumerGroup', 'consumer group name', true),
    opt('i', 'clientId', 'only this client (default: every client of the group)'),
    opt('b', 'brokerAddr', 'ask this broker (default: the masters in turn)'),
    opt('s', 'jstack', 'ask for the client stack too', false, true),
  ],
  async run(ctx) {
    const group = ctx.opt('g')!;
    const brokerAddr = ctx.opt('b');
    const ids = ctx.opt('i') ? [ctx.opt('i')!] : (await ctx.admin.consumerConnection(group, brokerAddr)).connections.map((c) => c.clientId).sort();
    const infos: Array<{ clientId: string; info: ConsumerRunningInfo }> = [];
    for (const clientId of ids) {
      infos.push({ clientId, info: await ctx.admin.consumerRunningInfo(group, clientId, { jstack: ctx.has('s'), ...(brokerAddr ? { brokerAddr } : {}) }) });
    }
    const same = new Set(infos.map((x) => subscriptionKey(x.info))).size <= 1;
    if (ctx.json) {
      ctx.io.out(toJson({ group, subscriptionsConsistent: same, clients: infos }));
      return;
    }
    for (const { clientId, info } of infos) {
      ctx.io.out(`Client ${clientId}\n`);
      ctx.io.out(
        formatTable(
          ['#Topic', '#Type', '#Expression'],
          info.subscriptions.map((s) => [s.topic, s.expressionType, s.subString]),
        ),
      );
      ctx.io.out(`Queues: ${info.queues.map((q) => `${q.topic}/${q.brokerName}/${q.queueId}`).join(' ') || '-'}\n`);
      for (const [k, v] of Object.entries(info.properties).sort((a, b) => a[0].localeCompare(b[0]))) ctx.io.out(`  ${k}: ${v}\n`);
      if (info.jstack) ctx.io.out(`${info.jstack}\n`);
      ctx.io.out('\n');
    }
    ctx.io.out(same ? `Subscriptions: the same on all ${infos.length} clients\n` : `WARNING: subscriptions differ between the clients of ${group}\n`);
  },
};
