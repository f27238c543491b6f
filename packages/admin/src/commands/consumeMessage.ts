import { LitePullConsumer, type ReceivedMessage } from '@rocketmq-ts/client';
import { MixAll } from '@rocketmq-ts/protocol';
import { UsageError, int, opt, parseTimestamp, type Command } from '../command.js';
import { formatKeyValues, toJson } from '../format.js';
import { messageDetail, messageJson } from '../print.js';

export const consumeMessage: Command = {
  name: 'consumeMessage',
  desc: 'Consume message',
  opts: [
    opt('t', 'topic', 'Topic name', true),
    opt('b', 'brokerName', 'Broker name'),
    opt('i', 'queueId', 'Queue Id'),
    opt('o', 'offset', 'Queue Offset'),
    opt('g', 'consumerGroup', 'Consumer Group Name'),
    opt('s', 'beginTimestamp', 'Begin timestamp[currentTimeMillis|yyyy-MM-dd#HH:mm:ss:SSS]'),
    opt('e', 'endTimestamp', 'End timestamp[currentTimeMillis|yyyy-MM-dd#HH:mm:ss:SSS]'),
    opt('c', 'MessageNumber', 'Number of message to be consumed'),
  ],
  async run(ctx) {
    const topic = ctx.opt('t')!;
    const max = int(ctx.opt('c'), 128, 'MessageNumber');
    const begin = ctx.opt('s') ? parseTimestamp(ctx.opt('s')!) : undefined;
    const end = ctx.opt('e') ? parseTimestamp(ctx.opt('e')!) : Number.MAX_SAFE_INTEGER;
    const lc = new LitePullConsumer({
      ...ctx.clientOpts,
      group: ctx.opt('g') ?? MixAll.TOOLS_CONSUMER_GROUP,
      autoCommit: false,
      brokerSuspendMaxTimeMillis: 500,
      pullBatchSize: 32,
    });
    await lc.start();
    try {
      let mqs = await lc.fetchMessageQueues(topic);
      if (ctx.opt('b')) mqs = mqs.filter((q) => q.brokerName === ctx.opt('b'));
      if (ctx.opt('i') !== undefined) mqs = mqs.filter((q) => q.queueId === int(ctx.opt('i'), 0, 'queueId'));
      if (mqs.length === 0) throw new UsageError('no queue matches the broker name / queue id given');
      await lc.assign(mqs);
      const api = ctx.admin.api;
      // Where each queue ends now: the command stops there rather than waiting for new messages.
      const ends = new Map<string, number>();
      for (const q of mqs) {
        const inst = lc.clientInstance;
        const addr = inst.findBrokerAddressInSubscribe(q.brokerName)!.addr;
        const [min, maxOff] = [await api.getMinOffset(addr, q), await api.getMaxOffset(addr, q)];
        let start = min;
        if (ctx.opt('o') !== undefined) start = Math.max(min, Math.min(maxOff, int(ctx.opt('o'), 0, 'offset')));
        else if (begin !== undefined) start = await api.searchOffset(addr, q, begin);
        ends.set(`${q.brokerName}:${q.queueId}`, maxOff);
        if (start >= maxOff) ends.delete(`${q.brokerName}:${q.queueId}`);
        await lc.seek(q, Math.min(start, maxOff));
      }
      const got: ReceivedMessage[] = [];
      const done = new Set<string>();
      const deadline = Date.now() + 15_000;
      while (got.length < max && done.size < ends.size && Date.now() < deadline) {
        for (const m of await lc.poll(500)) {
          const k = `${m.brokerName}:${m.queueId}`;
          if (m.queueOffset + 1 >= (ends.get(k) ?? 0)) done.add(k);
          if (m.storeTimestamp > end || got.length >= max) continue;
          got.push(m);
        }
      }
      if (ctx.json) ctx.io.out(toJson(got.map(messageJson)));
      else for (const m of got) ctx.io.out(`Consume ok\nMSGID: ${m.msgId} ${formatKeyValues(messageDetail(m)).trimEnd().replace(/\n/g, '\n  ')}\n`);
      if (!ctx.json && got.length === 0) ctx.io.out('no message\n');
    } finally {
      await lc.shutdown();
    }
  },
};
