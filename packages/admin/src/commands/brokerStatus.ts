import { opt, type Command } from '../command.js';
import { formatKeyValues } from '../format.js';
import { addrBanner, printPerBroker, sortedByKey } from '../print.js';

export const brokerStatus: Command = {
  name: 'brokerStatus',
  desc: 'Fetch broker runtime status data',
  opts: [opt('b', 'brokerAddr', 'Broker address'), opt('c', 'clusterName', 'which cluster')],
  async run(ctx) {
    await printPerBroker(
      ctx,
      (addr) => ctx.admin.brokerRuntimeInfo(addr),
      (addr, info, several) => (several ? addrBanner(addr) : '') + formatKeyValues(sortedByKey(info)),
    );
  },
};
