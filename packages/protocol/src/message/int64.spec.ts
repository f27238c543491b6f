import { describe, expect, it } from '@jest/globals';
import { encodeMessageRecord, measureMessageRecord, type MessageRecordInput } from './record.js';
import { readInt64BE, writeInt32BEUnchecked, writeInt64BE } from './int64.js';

// The byte-store writers must give exactly what Buffer's checked writers give.
describe('int32/int64 byte-store writers', () => {
  it('write int32 and uint32 values as Buffer#writeInt32BE / writeUInt32BE do', () => {
    const a = Buffer.alloc(4);
    const b = Buffer.alloc(4);
    for (const v of [0, 1, -1, 255, 256, 0x7fffffff, -0x80000000, 123456789, -987654321]) {
      writeInt32BEUnchecked(a, 0, v);
      b.writeInt32BE(v, 0);
      expect(a).toEqual(b);
    }
    for (const v of [0x80000000, 0xffffffff, 0xdeadbeef]) {
      writeInt32BEUnchecked(a, 0, v);
      b.writeUInt32BE(v, 0);
      expect(a).toEqual(b);
    }
  });

  it('write int64 values as writeBigInt64BE does, and refuse a write past the end', () => {
    const a = Buffer.alloc(8);
    const b = Buffer.alloc(8);
    for (const v of [0, 1, -1, 2 ** 32 - 1, 2 ** 32, -(2 ** 32), 2 ** 40 + 17, -(2 ** 40) - 17, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER]) {
      writeInt64BE(a, 0, v);
      b.writeBigInt64BE(BigInt(v), 0);
      expect(a).toEqual(b);
      expect(readInt64BE(a, 0)).toBe(v);
    }
    expect(() => writeInt64BE(Buffer.alloc(12), 5, 1)).toThrow(RangeError);
    expect(() => readInt64BE(Buffer.alloc(12), 5)).toThrow(RangeError);
    expect(() => readInt64BE(Buffer.alloc(12), -1)).toThrow(RangeError);
    expect(() => writeInt64BE(Buffer.alloc(12), -1, 1)).toThrow(RangeError);
  });

  it('the record encoder refuses a buffer without room for the record', () => {
    const m: MessageRecordInput = {
      topic: 't',
      queueId: 0,
      flag: 0,
      queueOffset: 0,
      physicalOffset: 0,
      sysFlag: 0,
      bornTimestamp: 1,
      bornHost: { address: '127.0.0.1', port: 1 },
      storeTimestamp: 1,
      storeHost: { address: '127.0.0.1', port: 2 },
      reconsumeTimes: 0,
      preparedTransactionOffset: 0,
      body: Buffer.alloc(100, 1),
      properties: 'A\u0001b\u0002',
    };
    const size = measureMessageRecord(m);
    expect(encodeMessageRecord(Buffer.alloc(size), 0, m)).toBe(size);
    expect(() => encodeMessageRecord(Buffer.alloc(size - 1), 0, m)).toThrow(RangeError);
    expect(() => encodeMessageRecord(Buffer.alloc(size + 10), 11, m)).toThrow(RangeError);
  });
});
