import { selectBrokerAddr } from '@rocketmq-ts/protocol';
import { opt, type Command } from '../command.js';
import { formatTable, toJson } from '../format.js';

export const topicRoute: Command = {
  name: 'topicRoute',
  desc: 'Examine topic route info',
  opts: [opt('t', 'topic', 'topic name', true), opt('l', 'list', 'Use list format to print data', false, true)],
  async run(ctx) {
    const r = await ctx.admin.topicRoute(ctx.opt('t')!);
    const data = {
      brokerDatas: r.brokerDatas.map((b) => ({ brokerAddrs: Object.fromEntries(b.brokerAddrs), brokerName: b.brokerName, cluster: b.cluster })),
      queueDatas: r.queueDatas,
      ...(r.orderTopicConf ? { orderTopicConf: r.orderTopicConf } : {}),
    };
    if (ctx.json || !ctx.has('l')) {
      ctx.io.out(toJson(data));
      return;
    }
    const rows = r.queueDatas.map((q) => {
      const bd = r.brokerDatas.find((b) => b.brokerName === q.brokerName);
      return [bd?.cluster ?? '', q.brokerName, bd ? (selectBrokerAddr(bd, true) ?? '') : '', q.readQueueNums, q.writeQueueNums, q.perm];
    });
    ctx.io.out(formatTable(['#ClusterName', '#BrokerName', '#BrokerAddr', '#ReadQueue', '#WriteQueue', '#Perm'], rows));
  },
};
