// Output shapes more than one command prints: messages, per-broker key/value tables, config listings.
import type { ReceivedMessage } from '@rocketmq-ts/client';
import type { CommandContext } from './command.js';
import { formatKeyValues, formatTime, toJson } from './format.js';
import { targets } from './command.js';

export function messageDetail(m: ReceivedMessage): Array<[string, string | number]> {
  const props = [...m.properties.entries()].map(([k, v]) => `${k}=${v}`).join(', ');
  return [
    ['OffsetID', m.offsetMsgId],
    ['Topic', m.topic],
    ['Tags', `[${m.tags ?? ''}]`],
    ['Keys', `[${m.keys.join(' ')}]`],
    ['Queue ID', m.queueId],
    ['Queue Offset', m.queueOffset],
    ['CommitLog Offset', m.commitLogOffset],
    ['Reconsume Times', m.reconsumeTimes],
    ['Born Timestamp', formatTime(m.bornTimestamp)],
    ['Store Timestamp', formatTime(m.storeTimestamp)],
    ['Born Host', `${m.bornHost.address}:${m.bornHost.port}`],
    ['Store Host', `${m.storeHost.address}:${m.storeHost.port}`],
    ['System Flag', m.sysFlag],
    ['Properties', `{${props}}`],
    ['Message Body', m.body.toString('utf8')],
  ];
}

export function messageJson(m: ReceivedMessage): Record<string, unknown> {
  return {
    msgId: m.msgId,
    offsetMsgId: m.offsetMsgId,
    topic: m.topic,
    brokerName: m.brokerName,
    tags: m.tags,
    keys: m.keys,
    queueId: m.queueId,
    queueOffset: m.queueOffset,
    commitLogOffset: m.commitLogOffset,
    reconsumeTimes: m.reconsumeTimes,
    bornTimestamp: m.bornTimestamp,
    storeTimestamp: m.storeTimestamp,
    bornHost: `${m.bornHost.address}:${m.bornHost.port}`,
    storeHost: `${m.storeHost.address}:${m.storeHost.port}`,
    sysFlag: m.sysFlag,
    properties: Object.fromEntries(m.properties),
    body: m.body.toString('utf8'),
  };
}

/** Full details of each message (the query commands' output). */
export function printMessages(ctx: CommandContext, list: ReceivedMessage[]): void {
  if (ctx.json) {
    ctx.io.out(toJson(list.map(messageJson)));
    return;
  }
  if (list.length === 0) {
    ctx.io.out('no message found\n');
    return;
  }
  for (const m of list) ctx.io.out(formatKeyValues([['Message ID', m.msgId], ...messageDetail(m)]) + '\n');
}

export const sortedByKey = (m: ReadonlyMap<string, string>): Array<[string, string]> => [...m].sort((a, b) => a[0].localeCompare(b[0]));

export const addrBanner = (addr: string): string => `============${addr}============\n`;

/** A server's configuration as mqadmin lists it: a banner, then `key = value` lines by key. */
export const configText = (addr: string, cfg: ReadonlyMap<string, string>): string =>
  addrBanner(addr) +
  sortedByKey(cfg)
    .map(([k, v]) => `${k.padEnd(50)}=  ${v}\n`)
    .join('');

/**
 * Reads one key/value table from each broker of -b / -c. Text: `text` per broker as it comes;
 * JSON: the table alone for one broker, else the tables by broker address.
 */
export async function printPerBroker(
  ctx: CommandContext,
  read: (addr: string) => Promise<Map<string, string>>,
  text: (addr: string, table: Map<string, string>, several: boolean) => string,
): Promise<void> {
  const addrs = await targets(ctx);
  const all: Record<string, Record<string, string>> = {};
  for (const addr of addrs) {
    const table = await read(addr);
    all[addr] = Object.fromEntries(sortedByKey(table));
    if (!ctx.json) ctx.io.out(text(addr, table, addrs.length > 1));
  }
  if (ctx.json) ctx.io.out(toJson(addrs.length === 1 ? all[addrs[0]!] : all));
}
