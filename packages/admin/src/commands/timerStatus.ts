import { opt, targets, type Command } from '../command.js';
import type { TimerStatusInfo } from '../admin.js';
import { formatKeyValues, formatTable, formatTime, toJson } from '../format.js';
import { addrBanner } from '../print.js';

/** Pending timers of each broker of -b / -c: the wheel's backlog and progress, then per topic. */
export const timerStatus: Command = {
  name: 'timerStatus',
  desc: 'Show timer messages pending on brokers (RocketMQ 5 timer wheel)',
  opts: [opt('b', 'brokerAddr', 'Broker address'), opt('c', 'clusterName', 'which cluster')],
  async run(ctx) {
    const addrs = await targets(ctx);
    const all: Record<string, (Omit<TimerStatusInfo, 'topics'> & { topics: Record<string, number> }) | null> = {};
    for (const addr of addrs) {
      const t = await ctx.admin.timerStatus(addr);
      all[addr] = t === undefined ? null : { ...t, topics: Object.fromEntries([...t.topics].sort((a, b) => a[0].localeCompare(b[0]))) };
      if (ctx.json) continue;
      let text = addrs.length > 1 ? addrBanner(addr) : '';
      if (t === undefined) {
        ctx.io.out(text + 'timer messages are off on this broker (timerWheelEnable=false)\n');
        continue;
      }
      text += formatKeyValues([
        ['Pending Timers', t.pending],
        ['Read Time', formatTime(t.lastReadTimeMs)],
        ['Read Behind (s)', t.readBehindSec],
        ['Not Yet Enqueued', t.offsetBehind],
        ['Timer Queue Offset', t.lastTimerQueueOffset],
        ['Enqueue TPS', t.enqueueTps.toFixed(2)],
        ['Dequeue TPS', t.dequeueTps.toFixed(2)],
      ]);
      if (t.topics.size > 0) {
        text +=
          '\n' +
          formatTable(
            ['#Topic', '#Pending'],
            [...t.topics].sort((a, b) => a[0].localeCompare(b[0])),
          );
      }
      ctx.io.out(text);
    }
    if (ctx.json) ctx.io.out(toJson(addrs.length === 1 ? all[addrs[0]!] : all));
  },
};
