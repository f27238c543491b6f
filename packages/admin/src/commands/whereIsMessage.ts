import { opt, type Command } from '../command.js';
import { formatKeyValues, formatTable, formatTime, toJson } from '../format.js';

/** Where one message is stored, who consumed it, its retry/DLQ copies, transaction and timer state. */
export const whereIsMessage: Command = {
  name: 'whereIsMessage',
  desc: 'Where a message is: stored copies, consumed by which groups, retries/DLQ, transaction and timer state',
  opts: [opt('i', 'msgId', 'Message Id (offset msgId, or the client id with -t)', true), opt('t', 'topic', 'topic name (needed for a client id)')],
  async run(ctx) {
    const r = await ctx.admin.whereIsMessage(ctx.opt('t'), ctx.opt('i')!);
    if (ctx.json) {
      ctx.io.out(toJson(r));
      return;
    }
    const l = r.location;
    let text = formatKeyValues([
      ['Message Id', r.msgId],
      ['Id Kind', r.idKind === 'offset' ? 'offset msgId' : 'client id (UNIQ_KEY)'],
      ['Found', r.found],
      ['Topic', r.topic],
      ['Unique Key', r.uniqKey],
      ['Keys', r.keys.join(' ')],
      ['Tags', r.tags],
      ['Broker', l ? `${l.brokerName} (${l.brokerAddr})` : undefined],
      ['Stored In', l?.topic],
      ['Queue Id', l?.queueId],
      ['Queue Offset', l?.queueOffset],
      ['Commit Log Offset', l?.commitLogOffset],
      ['Offset Msg Id', l?.offsetMsgId],
      ['Store Time', l ? formatTime(l.storeTimestamp) : undefined],
      ['Born Time', l ? formatTime(l.bornTimestamp) : undefined],
    ]);
    if (r.copies.length > 1) {
      text +=
        '\nCopies:\n' +
        formatTable(
          ['#Topic', '#Real Topic', '#Broker', '#QID', '#Queue Offset', '#Commit Log Offset', '#Store Time'],
          r.copies.map((c) => [c.topic, c.realTopic ?? '', c.brokerName, c.queueId, c.queueOffset, c.commitLogOffset, formatTime(c.storeTimestamp)]),
        );
    }
    text +=
      '\nConsumer Groups:\n' +
      (r.groups.length === 0
        ? '(no group consumes the topic)\n'
        : formatTable(
            ['#Group', '#State', '#Consumer Offset'],
            r.groups.map((g) => [g.group, g.state, g.consumerOffset]),
          ));
    text +=
      '\nRetry / DLQ Copies:\n' +
      (r.retries.length === 0
        ? '(none)\n'
        : formatTable(
            ['#Group', '#Kind', '#Topic', '#Reconsume Times', '#Queue Offset', '#Store Time'],
            r.retries.map((x) => [x.group, x.kind, x.topic, x.reconsumeTimes, x.queueOffset, formatTime(x.storeTimestamp)]),
          ));
    if (r.transaction) text += `\nTransaction: ${r.transaction.state} (${r.transaction.detail})\n`;
    if (r.timer) text += `\nTimer: ${r.timer.state}, deliver at ${r.timer.deliverAtMs >= 0 ? formatTime(r.timer.deliverAtMs) : '?'} (${r.timer.detail})\n`;
    for (const n of r.notes) text += `\nNote: ${n}\n`;
    ctx.io.out(text);
  },
};
