import { opt, type Command } from '../command.js';
import { configText, printPerBroker } from '../print.js';

export const getBrokerConfig: Command = {
  name: 'getBrokerConfig',
  desc: 'Get broker config by cluster or special broker',
  opts: [opt('b', 'brokerAddr', 'get which broker'), opt('c', 'clusterName', 'get which cluster')],
  async run(ctx) {
    await printPerBroker(ctx, (addr) => ctx.admin.getBrokerConfig(addr), configText);
  },
};
