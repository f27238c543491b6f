// Message ids (remoting.md §4.6): the broker's offset msgId and the client's UNIQ_KEY.
import type { SocketAddress } from '@rocketmq-ts/common';
import { formatAddress, writeAddress } from './address.js';
import { readInt64BE, writeInt64BE } from './int64.js';

const HEX2: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).toUpperCase().padStart(2, '0'));

/** Uppercase hex of a non-negative integer below 2^53 as 16 digits (the int64 part of an offset msgId). */
export function hex16(v: number): string {
  const hi = Math.floor(v / 4294967296);
  const lo = v >>> 0;
  return (
    HEX2[(hi >>> 24) & 0xff]! +
    HEX2[(hi >>> 16) & 0xff]! +
    HEX2[(hi >>> 8) & 0xff]! +
    HEX2[hi & 0xff]! +
    HEX2[lo >>> 24]! +
    HEX2[(lo >>> 16) & 0xff]! +
    HEX2[(lo >>> 8) & 0xff]! +
    HEX2[lo & 0xff]!
  );
}

// The hex of the last store host seen: every record of a broker shares it, only the offset changes.
let lastHostAddress = '';
let lastHostPort = -1;
let lastHostHex = '';

/** Offset msgId: uppercase hex of [store IP 4|16][int32 port][int64 commit-log offset]; 32 or 56 chars. */
export function createOffsetMsgId(storeHost: SocketAddress, commitLogOffset: number): string {
  if (storeHost.address === lastHostAddress && storeHost.port === lastHostPort && commitLogOffset >= 0 && commitLogOffset <= Number.MAX_SAFE_INTEGER) {
    return lastHostHex + hex16(commitLogOffset);
  }
  const buf = Buffer.allocUnsafe(28);
  const n = writeAddress(buf, 0, storeHost.address);
  buf.writeInt32BE(storeHost.port | 0, n);
  writeInt64BE(buf, n + 4, commitLogOffset);
  lastHostAddress = storeHost.address;
  lastHostPort = storeHost.port;
  lastHostHex = buf.toString('hex', 0, n + 4).toUpperCase();
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
    const t = (now - this.monthStart) | 0;
    this.counter = (this.counter + 1) & 0xffff;
    const c = this.counter;
    return this.prefix + HEX2[(t >>> 24) & 0xff]! + HEX2[(t >>> 16) & 0xff]! + HEX2[(t >>> 8) & 0xff]! + HEX2[t & 0xff]! + HEX2[c >>> 8]! + HEX2[c & 0xff]!;
  }
}

let defaultGenerator: UniqKeyGenerator | undefined;

/** A new UNIQ_KEY from a process-wide generator (client IP 127.0.0.1 unless you create your own). */
export function createUniqId(): string {
  defaultGenerator ??= new UniqKeyGenerator();
  return defaultGenerator.next();
}
