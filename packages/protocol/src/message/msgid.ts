// Message ids (remoting.md §4.6): the broker's offset msgId and the client's UNIQ_KEY.
import type { SocketAddress } from '@rocketmq-ts/common';
import { formatAddress, writeAddress } from './address.js';
import { readInt64BE, writeInt64BE } from './int64.js';

/** Offset msgId: uppercase hex of [store IP 4|16][int32 port][int64 commit-log offset]; 32 or 56 chars. */
export function createOffsetMsgId(storeHost: SocketAddress, commitLogOffset: number): string {
  const buf = Buffer.allocUnsafe(28);
  const n = writeAddress(buf, 0, storeHost.address);
  buf.writeInt32BE(storeHost.port | 0, n);
  writeInt64BE(buf, n + 4, commitLogOffset);
  return buf.toString('hex', 0, n + 12).toUpperCase();
}

export interface DecodedOffsetMsgId {
  address: string;
  port: number;
  commitLogOffset: number;
}

/** Decodes an offset msgId (32 hex chars = IPv4, 56 = IPv6); undefined when it is not one. */
export function decodeOffsetMsgId(msgId: string): DecodedOffsetMsgId | undefined {
  if ((msgId.length !== 32 && msgId.length !== 56) || !/^[0-9a-fA-F]+$/.test(msgId)) return undefined;
  const buf = Buffer.from(msgId, 'hex');
  const ipLen = msgId.length === 32 ? 4 : 16;
  return { address: formatAddress(buf, 0, ipLen), port: buf.readInt32BE(ipLen), commitLogOffset: readInt64BE(buf, ipLen + 4) };
}

/**
 * UNIQ_KEY generator: uppercase hex of [client IP 4|16][int16 pid][int32 instance hash]
 * [int32 ms since the start of the current month][int16 counter] (32 hex chars for IPv4).
 * The fixed prefix is encoded once; each id costs one 12-char hex suffix.
 */
export class UniqKeyGenerator {
  private readonly prefix: string;
  private counter: number;
  private monthStart = 0;
  private nextMonthStart = 0;
  private readonly tail = Buffer.allocUnsafe(6);

  constructor(clientIp = '127.0.0.1', pid: number = process.pid, instanceHash: number = (Math.random() * 0x7fffffff) | 0) {
    const head = Buffer.allocUnsafe(22);
    const n = writeAddress(head, 0, clientIp);
    head.writeInt16BE((pid << 16) >> 16, n);
    head.writeInt32BE(instanceHash | 0, n + 2);
    this.prefix = head.toString('hex', 0, n + 6).toUpperCase();
    this.counter = (Math.random() * 0xffff) | 0;
  }

  next(now: number = Date.now()): string {
    if (now >= this.nextMonthStart || now < this.monthStart) {
      const d = new Date(now);
      this.monthStart = new Date(d.getFullYear(), d.getMonth(), 1).getTime();
      this.nextMonthStart = new Date(d.getFullYear(), d.getMonth() + 1, 1).getTime();
    }
    this.tail.writeInt32BE((now - this.monthStart) | 0, 0);
    this.counter = (this.counter + 1) & 0xffff;
    this.tail.writeUInt16BE(this.counter, 4);
    return this.prefix + this.tail.toString('hex').toUpperCase();
  }
}

let defaultGenerator: UniqKeyGenerator | undefined;

/** A new UNIQ_KEY from a process-wide generator (client IP 127.0.0.1 unless you create your own). */
export function createUniqId(): string {
  defaultGenerator ??= new UniqKeyGenerator();
  return defaultGenerator.next();
}
