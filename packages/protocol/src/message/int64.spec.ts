import { describe, expect, it } from '@jest/globals';
import { RecordDecodeError, decodeMessageRecord, encodeMessageRecord, isStoredRecordIntact, measureMessageRecord, type MessageRecordInput } from './record.js';
import { readInt16BEUnchecked, readInt32BEUnchecked, readInt64BE, writeInt32BEUnchecked, writeInt64BE } from './int64.js';

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

describe('int32/int16 byte-load readers and the record readers built on them', () => {
  it('read what Buffer#readInt32BE / readInt16BE read', () => {
    const b = Buffer.alloc(64);
    let x = 0x9e3779b9;
    for (let i = 0; i < b.length; i++) {
      x = Math.imul(x ^ (x >>> 13), 0x5bd1e995) >>> 0;
      b[i] = x & 0xff;
    }
    for (let p = 0; p + 4 <= b.length; p++) expect(readInt32BEUnchecked(b, p)).toBe(b.readInt32BE(p));
    for (let p = 0; p + 2 <= b.length; p++) expect(readInt16BEUnchecked(b, p)).toBe(b.readInt16BE(p));
    for (const v of [0x7fff, -0x8000, -1, 0]) {
      b.writeInt16BE(v, 0);
      expect(readInt16BEUnchecked(b, 0)).toBe(v);
    }
  });

  it('a record cut short anywhere, with IPv4 or IPv6 hosts, is refused with RecordDecodeError and never read past its end', () => {
    for (const sysFlag of [0, 0x10 | 0x20]) {
      const v6 = sysFlag !== 0;
      const m: MessageRecordInput = {
        topic: 'cut',
        queueId: 1,
        flag: 0,
        queueOffset: 7,
        physicalOffset: 4096,
        sysFlag,
        bornTimestamp: 1,
        bornHost: { address: v6 ? '::1' : '127.0.0.1', port: 1 },
        storeTimestamp: 2,
        storeHost: { address: v6 ? '::1' : '127.0.0.1', port: 2 },
        reconsumeTimes: 0,
        preparedTransactionOffset: 0,
        body: Buffer.alloc(40, 3),
        properties: 'K\u0001v\u0002',
      };
      const size = measureMessageRecord(m);
      const whole = Buffer.alloc(size);
      encodeMessageRecord(whole, 0, m);
      expect(decodeMessageRecord(whole).queueOffset).toBe(7);
      expect(isStoredRecordIntact(whole, 0, size, { physicalOffset: 4096, queueId: 1, queueOffset: 7 }, true)).toBe(true);
      for (let cut = 0; cut < size; cut++) {
        // The record's size field claims `cut` bytes and the buffer ends there, so nothing beyond may be read.
        const b = Buffer.from(whole.subarray(0, cut));
        if (cut >= 4) b.writeInt32BE(cut, 0);
        expect(() => decodeMessageRecord(b)).toThrow(RecordDecodeError);
        expect(isStoredRecordIntact(b, 0, cut, { physicalOffset: 4096, queueId: 1, queueOffset: 7 }, true)).toBe(false);
      }
    }
  });
});
