import { Message, Producer, type MessageQueue } from '@rocketmq-ts/client';
import { UsageError, int, opt, type Command } from '../command.js';
import { formatTable, toJson } from '../format.js';

export const sendMessage: Command = {
  name: 'sendMessage',
  desc: 'Send a message',
  opts: [
    opt('t', 'topic', 'Topic name', true),
    opt('p', 'body', 'UTF-8 string format of the message body', true),
    opt('k', 'key', 'Message keys'),
    opt('c', 'tags', 'Message tags'),
    opt('b', 'broker', 'Send message to target broker'),
    opt('i', 'qid', 'Send message to target queue'),
  ],
  async run(ctx) {
    const p = new Producer({ ...ctx.clientOpts, group: `PID_MQADMIN_${process.pid}_${Date.now()}` });
    await p.start();
    try {
      const msg = new Message(ctx.opt('t')!, Buffer.from(ctx.opt('p')!, 'utf8'), {
        ...(ctx.opt('c') ? { tags: ctx.opt('c')! } : {}),
        ...(ctx.opt('k') ? { keys: ctx.opt('k')! } : {}),
      });
      let queue: MessageQueue | undefined;
      if (ctx.opt('b') || ctx.opt('i') !== undefined) {
        if (!ctx.opt('b') || ctx.opt('i') === undefined) throw new UsageError('give both the broker name (-b) and the queue id (-i)');
        queue = { topic: msg.topic, brokerName: ctx.opt('b')!, queueId: int(ctx.opt('i'), 0, 'qid') };
      }
      const r = await p.send(msg, queue ? { queue } : {});
      if (ctx.json) {
        ctx.io.out(
          toJson({
            brokerName: r.messageQueue.brokerName,
            queueId: r.messageQueue.queueId,
            queueOffset: r.queueOffset,
            sendStatus: r.sendStatus,
            msgId: r.msgId,
            offsetMsgId: r.offsetMsgId,
          }),
        );
      } else {
        ctx.io.out(
          formatTable(['#Broker Name', '#QID', '#Send Result', '#MsgId'], [[r.messageQueue.brokerName, r.messageQueue.queueId, r.sendStatus, r.msgId]]),
        );
      }
    } finally {
      await p.shutdown();
    }
  },
};
