import type { HalfMessage, HalfScanProgress } from '../half-messages.js';
import { UsageError, opt, type Command, type CommandContext } from '../command.js';
import { formatTable, formatTime, toJson } from '../format.js';

/** Scans running longer than this report their progress on stderr, at most once per this interval. */
const PROGRESS_AFTER_MS = 2_000;

export const halfMessageList: Command = {
  name: 'halfMessageList',
  desc: 'List the half messages of transactions still open on a broker, with their check count',
  opts: [
    opt('b', 'brokerAddr', 'broker address'),
    opt('c', 'clusterName', 'cluster name (every master of it)'),
    opt('t', 'topic', 'only transactions of this topic'),
  ],
  async run(ctx) {
    const topic = ctx.opt('t');
    const rows: HalfMessage[] = [];
    for (const { addr, brokerName } of await brokers(ctx)) {
      const scan = await ctx.admin.openHalfMessages(addr, brokerName, { topic, onProgress: progressReporter(ctx) });
      rows.push(...scan.open);
    }
    if (ctx.json) {
      ctx.io.out(
        toJson(
          rows.map((h) => ({
            brokerName: h.brokerName,
            brokerAddr: h.brokerAddr,
            topic: h.topic,
            queueId: h.queueId,
            transactionId: h.transactionId,
            producerGroup: h.producerGroup,
            bornTimestamp: h.bornTimestamp,
            checkTimes: h.checkTimes,
            halfOffset: h.halfOffset,
            storeTimestamp: h.storeTimestamp,
            commitLogOffset: h.commitLogOffset,
            offsetMsgId: h.offsetMsgId,
          })),
        ),
      );
      return;
    }
    ctx.io.out(
      formatTable(
        ['#Broker Name', '#Topic', '#QID', '#Transaction Id', '#Producer Group', '#Born Time', '#Check Times', '#Half Offset'],
        rows.map((h) => [h.brokerName, h.topic, h.queueId, h.transactionId, h.producerGroup, formatTime(h.bornTimestamp), h.checkTimes, h.halfOffset]),
      ),
    );
  },
};

/** -b (its name from the name server, else from the broker), or the masters of -c. */
async function brokers(ctx: CommandContext): Promise<Array<{ addr: string; brokerName: string }>> {
  const b = ctx.opt('b');
  const c = ctx.opt('c');
  if (b) return [{ addr: b, brokerName: await ctx.admin.brokerNameOf(b, true) }];
  if (!c) throw new UsageError('give a broker address (-b) or a cluster name (-c)');
  return ctx.admin.masterAddrs({ cluster: c });
}

/** Progress lines on stderr once a scan has taken a while (stdout stays the table or the JSON). */
function progressReporter(ctx: CommandContext): (p: HalfScanProgress) => void {
  const started = Date.now();
  let last = started;
  return (p) => {
    const now = Date.now();
    if (now - started < PROGRESS_AFTER_MS || now - last < PROGRESS_AFTER_MS) return;
    last = now;
    ctx.io.err(`halfMessageList: ${p.brokerAddr} reading ${p.step}: ${p.done}/${p.total}\n`);
  };
}
