// Commit-log record codec (remoting.md §4.1). The same bytes are the elements of pull/query bodies.
import { MessageSysFlag, type MessageExt, type SocketAddress } from '@rocketmq-ts/common';
import { addressByteLength, readSocketAddress, writeSocketAddress } from './address.js';
import { bodyCrc32 } from './crc32.js';
import { readInt16BEUnchecked, readInt32BEUnchecked, readInt64BE, writeInt32BEUnchecked as w32, writeInt64BE } from './int64.js';
import { decodeProperties, findProperty } from './properties.js';
import { createOffsetMsgId } from './msgid.js';
import { javaStringHashCode } from './hash.js';

/** MAGIC V1: 1-byte topic length. Used whenever the topic fits in 127 bytes (pitfall 12). */
export const MESSAGE_MAGIC_CODE_V1 = 0xdaa320a7 | 0;
/** MAGIC V2: 2-byte topic length (5.x), only for topics longer than 127 bytes. */
export const MESSAGE_MAGIC_CODE_V2 = 0xdaa320ab | 0;
/** End-of-segment filler: int32 remaining length + this magic. */
export const BLANK_MAGIC_CODE = 0xcbd43194 | 0;
/** Bytes a segment must keep free for the end-of-segment blank header. */
export const END_FILE_MIN_BLANK_LENGTH = 8;
/** Largest properties string, in bytes (int16 length field). */
export const MAX_PROPERTIES_LENGTH = 32767;
/** Longest topic with a 1-byte length (V1). */
export const MAX_TOPIC_LENGTH_V1 = 127;
/** Longest topic with a 2-byte length (V2). */
export const MAX_TOPIC_LENGTH_V2 = 32767;

/** Field offsets that do not depend on host sizes. */
export const RecordOffsets = {
  TOTALSIZE: 0,
  MAGICCODE: 4,
  BODYCRC: 8,
  QUEUEID: 12,
  FLAG: 16,
  QUEUEOFFSET: 20,
  PHYSICALOFFSET: 28,
  SYSFLAG: 36,
  BORNTIMESTAMP: 40,
  BORNHOST: 48,
} as const;

/** Fields of a record to encode. `properties` is the already-encoded properties string. */
export interface MessageRecordInput {
  topic: string;
  queueId: number;
  flag: number;
  queueOffset: number;
  physicalOffset: number;
  /** IPv6 bits (0x10/0x20) are recomputed from the hosts. */
  sysFlag: number;
  bornTimestamp: number;
  bornHost: SocketAddress;
  storeTimestamp: number;
  storeHost: SocketAddress;
  reconsumeTimes: number;
  preparedTransactionOffset: number;
  body: Uint8Array;
  properties: string;
  /** Stored BODYCRC; computed from the body when absent. */
  bodyCRC?: number;
}

/** Size of a record given its variable parts (all lengths in bytes). */
export function messageRecordSize(bodyLength: number, topicLength: number, propertiesLength: number, bornHostV6 = false, storeHostV6 = false): number {
  const topicLenField = topicLength > MAX_TOPIC_LENGTH_V1 ? 2 : 1;
  return (
    4 +
    4 +
    4 +
    4 +
    4 +
    8 +
    8 +
    4 +
    8 +
    (bornHostV6 ? 20 : 8) +
    8 +
    (storeHostV6 ? 20 : 8) +
    4 +
    8 +
    4 +
    bodyLength +
    topicLenField +
    topicLength +
    2 +
    propertiesLength
  );
}

/** Size of the record `encodeMessageRecord` would write for `m`. */
export function measureMessageRecord(m: MessageRecordInput): number {
  return messageRecordSize(
    m.body.length,
    Buffer.byteLength(m.topic, 'utf8'),
    Buffer.byteLength(m.properties, 'utf8'),
    addressByteLength(m.bornHost.address) === 16,
    addressByteLength(m.storeHost.address) === 16,
  );
}

/**
 * Encodes one record into `buf` at `pos` and returns its size. The caller guarantees room
 * (see measureMessageRecord). Throws RangeError when the topic or properties are too long.
 * Pass topicLength/propertiesLength when already known to skip re-measuring.
 */
export function encodeMessageRecord(
  buf: Buffer,
  pos: number,
  m: MessageRecordInput,
  topicLength = Buffer.byteLength(m.topic, 'utf8'),
  propertiesLength = Buffer.byteLength(m.properties, 'utf8'),
): number {
  if (topicLength > MAX_TOPIC_LENGTH_V2) throw new RangeError(`topic too long: ${topicLength} bytes`);
  if (propertiesLength > MAX_PROPERTIES_LENGTH) throw new RangeError(`properties too long: ${propertiesLength} bytes`);
  // The fields below are written with unchecked stores: check the room (with IPv4 hosts; an IPv6
  // host's extra bytes are checked by the string writes at the end) once here.
  if (!(pos >= 0 && pos + messageRecordSize(m.body.length, topicLength, propertiesLength) <= buf.length)) {
    throw new RangeError(`no room for a record at ${pos} in a buffer of ${buf.length}`);
  }
  const v2 = topicLength > MAX_TOPIC_LENGTH_V1;
  let p = pos + 8;
  const bodyLen = m.body.length;
  w32(buf, p, m.bodyCRC ?? bodyCrc32(m.body));
  w32(buf, p + 4, m.queueId | 0);
  w32(buf, p + 8, m.flag | 0);
  writeInt64BE(buf, p + 12, m.queueOffset);
  writeInt64BE(buf, p + 20, m.physicalOffset);
  const sysFlagPos = p + 28;
  writeInt64BE(buf, p + 32, m.bornTimestamp);
  p += 40;
  const bornLen = writeSocketAddress(buf, p, m.bornHost);
  p += bornLen;
  writeInt64BE(buf, p, m.storeTimestamp);
  p += 8;
  const storeLen = writeSocketAddress(buf, p, m.storeHost);
  p += storeLen;
  let sysFlag = m.sysFlag & ~(MessageSysFlag.BORNHOST_V6_FLAG | MessageSysFlag.STOREHOSTADDRESS_V6_FLAG);
  if (bornLen === 20) sysFlag |= MessageSysFlag.BORNHOST_V6_FLAG;
  if (storeLen === 20) sysFlag |= MessageSysFlag.STOREHOSTADDRESS_V6_FLAG;
  w32(buf, sysFlagPos, sysFlag);
  w32(buf, p, m.reconsumeTimes | 0);
  writeInt64BE(buf, p + 4, m.preparedTransactionOffset);
  w32(buf, p + 12, bodyLen);
  p += 16;
  if (bodyLen > 0) {
    buf.set(m.body, p);
    p += bodyLen;
  }
  if (v2) {
    buf.writeInt16BE(topicLength, p);
    p += 2;
  } else {
    buf[p++] = topicLength;
  }
  p += buf.write(m.topic, p, topicLength, 'utf8');
  buf.writeInt16BE(propertiesLength, p);
  p += 2;
  if (propertiesLength > 0) p += buf.write(m.properties, p, propertiesLength, 'utf8');
  const total = p - pos;
  w32(buf, pos, total);
  w32(buf, pos + 4, v2 ? MESSAGE_MAGIC_CODE_V2 : MESSAGE_MAGIC_CODE_V1);
  return total;
}

/** Encodes one record into a new Buffer (tests, tools; the store encodes in place). */
export function encodeMessageRecordToBuffer(m: MessageRecordInput): Buffer {
  const buf = Buffer.allocUnsafe(measureMessageRecord(m));
  encodeMessageRecord(buf, 0, m);
  return buf;
}

/** Writes the end-of-segment blank header (int32 length, BLANK magic) and returns 8. */
export function encodeBlankRecord(buf: Buffer, pos: number, remaining: number): number {
  buf.writeInt32BE(remaining, pos);
  buf.writeInt32BE(BLANK_MAGIC_CODE, pos + 4);
  return END_FILE_MIN_BLANK_LENGTH;
}

/** A stored message decoded from its record, plus the raw properties string. */
export interface DecodedMessage extends MessageExt {
  propertiesString: string;
  magicCode: number;
}

export interface DecodeOptions {
  /** Keep the body (a view into `buf`, not a copy). Default true. */
  readBody?: boolean;
  /** Parse the properties into a Map. Default true. */
  decodeProperties?: boolean;
  /**
   * The TOTALSIZE field may be wrong (a transaction check-back body: the broker encodes the half
   * with storeSize 0, or a stale size after changing topic and properties). The record is then read
   * field by field up to the end of `buf`, and `storeSize` reports the bytes it actually took.
   */
  untrustedStoreSize?: boolean;
}

/** Thrown by decodeMessageRecord for bytes that are not a valid record. */
export class RecordDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RecordDecodeError';
  }
}

function isMessageMagic(magic: number): boolean {
  return magic === MESSAGE_MAGIC_CODE_V1 || magic === MESSAGE_MAGIC_CODE_V2;
}

/** Buffer's own slicers, without toString's argument handling (records are decoded by the thousand). */
interface Utf8Sliceable {
  utf8Slice(start: number, end: number): string;
}

// The last topic decoded, as bytes and string: a pull body's records are of one topic, so its
// string is made once, not per record.
const lastTopicBytes = new Uint8Array(MAX_TOPIC_LENGTH_V2);
let lastTopicLen = -1;
let lastTopicString = '';

/** The topic at buf[p, p + len), from the last one decoded when the bytes are the same. */
function topicAt(buf: Buffer, p: number, len: number): string {
  if (len === lastTopicLen) {
    let i = 0;
    while (i < len && buf[p + i] === lastTopicBytes[i]) i++;
    if (i === len) return lastTopicString;
  }
  const t = (buf as unknown as Utf8Sliceable).utf8Slice(p, p + len);
  if (len <= lastTopicBytes.length) {
    lastTopicBytes.set(buf.subarray(p, p + len));
    lastTopicLen = len;
    lastTopicString = t;
  }
  return t;
}

/** Decodes the record at `pos`. The body is a subarray of `buf` (no copy). */
export function decodeMessageRecord(buf: Buffer, pos = 0, opts: DecodeOptions = {}): DecodedMessage {
  if (buf.length - pos < 8) throw new RecordDecodeError('record header truncated');
  const trustSize = opts.untrustedStoreSize !== true;
  let storeSize = readInt32BEUnchecked(buf, pos);
  const magic = readInt32BEUnchecked(buf, pos + 4);
  if (!isMessageMagic(magic)) throw new RecordDecodeError(`bad magic 0x${(magic >>> 0).toString(16)}`);
  if (!trustSize) storeSize = buf.length - pos;
  if (storeSize < messageRecordSize(0, 0, 0) || pos + storeSize > buf.length) throw new RecordDecodeError(`bad record size ${storeSize}`);
  const end = pos + storeSize;
  const bodyCRC = readInt32BEUnchecked(buf, pos + 8);
  const queueId = readInt32BEUnchecked(buf, pos + 12);
  const flag = readInt32BEUnchecked(buf, pos + 16);
  const queueOffset = readInt64BE(buf, pos + 20);
  const commitLogOffset = readInt64BE(buf, pos + 28);
  const sysFlag = readInt32BEUnchecked(buf, pos + 36);
  const bornV6 = (sysFlag & MessageSysFlag.BORNHOST_V6_FLAG) !== 0;
  const storeV6 = (sysFlag & MessageSysFlag.STOREHOSTADDRESS_V6_FLAG) !== 0;
  if ((bornV6 || storeV6) && storeSize < messageRecordSize(0, 0, 0, bornV6, storeV6)) throw new RecordDecodeError(`bad record size ${storeSize}`);
  const bornTimestamp = readInt64BE(buf, pos + 40);
  let p = pos + 48;
  const bornLen = bornV6 ? 16 : 4;
  const bornHost = readSocketAddress(buf, p, bornLen);
  p += bornLen + 4;
  const storeTimestamp = readInt64BE(buf, p);
  p += 8;
  const storeLen = storeV6 ? 16 : 4;
  const storeHost = readSocketAddress(buf, p, storeLen);
  p += storeLen + 4;
  const reconsumeTimes = readInt32BEUnchecked(buf, p);
  const preparedTransactionOffset = readInt64BE(buf, p + 4);
  const bodyLen = readInt32BEUnchecked(buf, p + 12);
  p += 16;
  if (bodyLen < 0 || p + bodyLen > end) throw new RecordDecodeError(`bad body length ${bodyLen}`);
  const body = opts.readBody === false ? Buffer.alloc(0) : buf.subarray(p, p + bodyLen);
  p += bodyLen;
  let topicLen: number;
  if (p + (magic === MESSAGE_MAGIC_CODE_V2 ? 2 : 1) > end) throw new RecordDecodeError('record truncated before the topic');
  if (magic === MESSAGE_MAGIC_CODE_V2) {
    topicLen = readInt16BEUnchecked(buf, p);
    p += 2;
  } else {
    topicLen = buf[p] as number;
    p += 1;
  }
  if (p + topicLen + 2 > end) throw new RecordDecodeError(`bad topic length ${topicLen}`);
  const topic = topicAt(buf, p, topicLen);
  p += topicLen;
  const propsLen = readInt16BEUnchecked(buf, p);
  p += 2;
  if (propsLen < 0 || (trustSize ? p + propsLen !== end : p + propsLen > end)) throw new RecordDecodeError(`bad properties length ${propsLen}`);
  const propertiesString = propsLen > 0 ? (buf as unknown as Utf8Sliceable).utf8Slice(p, p + propsLen) : '';
  if (!trustSize) storeSize = p + propsLen - pos;
  return {
    topic,
    flag,
    body,
    properties: opts.decodeProperties === false ? new Map() : decodeProperties(propertiesString),
    propertiesString,
    queueId,
    storeSize,
    queueOffset,
    sysFlag,
    bornTimestamp,
    bornHost,
    storeTimestamp,
    storeHost,
    msgId: createOffsetMsgId(storeHost, commitLogOffset),
    commitLogOffset,
    bodyCRC,
    reconsumeTimes,
    preparedTransactionOffset,
    magicCode: magic,
  };
}

/** Decodes every record of a buffer of concatenated records (a pull body); stops at a BLANK or at the end. */
export function* iterateMessageRecords(buf: Buffer, opts: DecodeOptions = {}): Generator<DecodedMessage> {
  let pos = 0;
  while (pos + 8 <= buf.length) {
    const magic = buf.readInt32BE(pos + 4);
    if (magic === BLANK_MAGIC_CODE) return;
    const m = decodeMessageRecord(buf, pos, opts);
    yield m;
    pos += m.storeSize;
  }
}

/** Decodes all records of a pull/query body. */
export function decodeMessageRecords(buf: Buffer, opts: DecodeOptions = {}): DecodedMessage[] {
  return [...iterateMessageRecords(buf, opts)];
}

/** What the store needs from a record to build consume-queue units and index entries. */
export interface RecordInfo {
  topic: string;
  queueId: number;
  queueOffset: number;
  physicalOffset: number;
  size: number;
  sysFlag: number;
  storeTimestamp: number;
  /** Hash of TAGS (0 without tags); the store may override it (delay topic). */
  tagsCode: number;
  propertiesString: string;
  bodyCRC: number;
}

export type RecordCheck =
  | { kind: 'record'; info: RecordInfo }
  | { kind: 'blank'; size: number }
  /** All-zero header: the written data ends here. */
  | { kind: 'end' }
  | { kind: 'corrupt'; reason: string };

/**
 * Verifies the record at `pos` inside buf[pos, limit): magic, size, layout, and (optionally) body CRC
 * and the stored physical offset. Used by recovery and replication; never throws.
 */
export function checkMessageRecord(buf: Buffer, pos: number, limit: number, opts: { checkCRC?: boolean; expectedPhysicalOffset?: number } = {}): RecordCheck {
  if (limit - pos < 8) return limit - pos <= 0 ? { kind: 'end' } : { kind: 'corrupt', reason: 'truncated header' };
  const size = buf.readInt32BE(pos);
  const magic = buf.readInt32BE(pos + 4);
  if (magic === BLANK_MAGIC_CODE) return { kind: 'blank', size };
  if (size === 0 && magic === 0) return { kind: 'end' };
  if (!isMessageMagic(magic)) return { kind: 'corrupt', reason: `bad magic 0x${(magic >>> 0).toString(16)}` };
  if (size < messageRecordSize(0, 0, 0) || pos + size > limit) return { kind: 'corrupt', reason: `bad size ${size}` };
  const end = pos + size;
  const physicalOffset = readInt64BE(buf, pos + 28);
  if (opts.expectedPhysicalOffset !== undefined && physicalOffset !== opts.expectedPhysicalOffset) {
    return { kind: 'corrupt', reason: `physical offset ${physicalOffset} != ${opts.expectedPhysicalOffset}` };
  }
  const sysFlag = buf.readInt32BE(pos + 36);
  let p = pos + 48 + (sysFlag & MessageSysFlag.BORNHOST_V6_FLAG ? 20 : 8);
  const storeTimestamp = readInt64BE(buf, p);
  p += 8 + (sysFlag & MessageSysFlag.STOREHOSTADDRESS_V6_FLAG ? 20 : 8) + 12;
  if (p + 4 > end) return { kind: 'corrupt', reason: 'header overruns record' };
  const bodyLen = buf.readInt32BE(p);
  p += 4;
  if (bodyLen < 0 || p + bodyLen > end) return { kind: 'corrupt', reason: `bad body length ${bodyLen}` };
  const bodyCRC = buf.readInt32BE(pos + 8);
  if (opts.checkCRC && bodyCrc32(buf, p, p + bodyLen) !== bodyCRC) return { kind: 'corrupt', reason: 'body CRC mismatch' };
  p += bodyLen;
  let topicLen: number;
  if (magic === MESSAGE_MAGIC_CODE_V2) {
    if (p + 2 > end) return { kind: 'corrupt', reason: 'topic length overruns record' };
    topicLen = buf.readInt16BE(p);
    p += 2;
  } else {
    if (p + 1 > end) return { kind: 'corrupt', reason: 'topic length overruns record' };
    topicLen = buf[p] as number;
    p += 1;
  }
  if (topicLen < 0 || p + topicLen + 2 > end) return { kind: 'corrupt', reason: `bad topic length ${topicLen}` };
  const topic = buf.toString('utf8', p, p + topicLen);
  p += topicLen;
  const propsLen = buf.readInt16BE(p);
  p += 2;
  if (propsLen < 0 || p + propsLen !== end) return { kind: 'corrupt', reason: `bad properties length ${propsLen}` };
  // Properties end with a separator, topic names hold no zero byte: zeros there are a torn write
  // whose last page never reached the disk (the body CRC does not cover them).
  if (buf[propsLen > 0 ? end - 1 : p - 3] === 0) return { kind: 'corrupt', reason: 'zero byte at the end of the properties or topic (torn write)' };
  const propertiesString = propsLen > 0 ? buf.toString('utf8', p, end) : '';
  const tags = findProperty(propertiesString, 'TAGS');
  return {
    kind: 'record',
    info: {
      topic,
      queueId: buf.readInt32BE(pos + 12),
      queueOffset: readInt64BE(buf, pos + 20),
      physicalOffset,
      size,
      sysFlag,
      storeTimestamp,
      tagsCode: tags !== undefined && tags.length > 0 ? javaStringHashCode(tags) : 0,
      propertiesString,
      bodyCRC,
    },
  };
}

/** Store timestamp field of the record at `pos` (its position depends on the born host size). */
export function readStoreTimestamp(buf: Buffer, pos: number): number {
  const sysFlag = buf.readInt32BE(pos + 36);
  return readInt64BE(buf, pos + 48 + (sysFlag & MessageSysFlag.BORNHOST_V6_FLAG ? 20 : 8));
}

/**
 * The read path's check of a record served from a consume-queue unit: magic, the size the unit
 * gave, the stored physical offset, queue id and queue offset the unit stands for, the lengths of
 * body, topic and properties adding up to the size, and (when `checkCRC`) the body CRC. No strings
 * decoded: cheap enough for every pulled message. Never throws.
 */
export function isStoredRecordIntact(
  buf: Buffer,
  pos: number,
  size: number,
  expected: { physicalOffset: number; queueId: number; queueOffset: number },
  checkCRC: boolean,
): boolean {
  if (size < 56 || pos + size > buf.length) return false;
  if (readInt32BEUnchecked(buf, pos) !== size || !isMessageMagic(readInt32BEUnchecked(buf, pos + 4))) return false;
  if (readInt32BEUnchecked(buf, pos + 12) !== expected.queueId || readInt64BE(buf, pos + 20) !== expected.queueOffset) return false;
  if (readInt64BE(buf, pos + 28) !== expected.physicalOffset) return false;
  // The variable-length fields must add up to the record size.
  const end = pos + size;
  const sysFlag = readInt32BEUnchecked(buf, pos + 36);
  let p = pos + 48 + (sysFlag & MessageSysFlag.BORNHOST_V6_FLAG ? 20 : 8) + 8 + (sysFlag & MessageSysFlag.STOREHOSTADDRESS_V6_FLAG ? 20 : 8) + 12;
  if (p + 4 > end) return false;
  const bodyLen = readInt32BEUnchecked(buf, p);
  const bodyAt = p + 4;
  if (bodyLen < 0 || bodyAt + bodyLen > end) return false;
  p = bodyAt + bodyLen;
  const v2 = readInt32BEUnchecked(buf, pos + 4) === MESSAGE_MAGIC_CODE_V2;
  if (p + (v2 ? 2 : 1) > end) return false;
  const topicLen = v2 ? readInt16BEUnchecked(buf, p) : (buf[p] as number);
  p += (v2 ? 2 : 1) + topicLen;
  if (topicLen <= 0 || p + 2 > end) return false;
  const propsLen = readInt16BEUnchecked(buf, p);
  if (propsLen < 0 || p + 2 + propsLen !== end || buf[propsLen > 0 ? end - 1 : p - 1] === 0) return false;
  return !checkCRC || bodyCrc32(buf, bodyAt, bodyAt + bodyLen) === readInt32BEUnchecked(buf, pos + 8);
}
