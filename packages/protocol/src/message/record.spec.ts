import { describe, expect, it } from '@jest/globals';
import { MessageSysFlag } from '@rocketmq-ts/common';
import {
  BLANK_MAGIC_CODE,
  MESSAGE_MAGIC_CODE_V1,
  MESSAGE_MAGIC_CODE_V2,
  checkMessageRecord,
  decodeMessageRecord,
  decodeMessageRecords,
  encodeBlankRecord,
  encodeMessageRecord,
  encodeMessageRecordToBuffer,
  isStoredRecordIntact,
  measureMessageRecord,
  messageRecordSize,
  readStoreTimestamp,
  type MessageRecordInput,
} from './record.js';
import { bodyCrc32, crc32, crc32Js } from './crc32.js';
import { encodeProperties } from './properties.js';

// Builds expected bytes field by field from the table in remoting.md §4.1.
function be32(v: number): number[] {
  return [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
}
function be64(v: number): number[] {
  const hi = Math.floor(v / 2 ** 32);
  return [...be32(hi), ...be32(v >>> 0)];
}
function be16(v: number): number[] {
  return [(v >>> 8) & 0xff, v & 0xff];
}
function ascii(s: string): number[] {
  return [...Buffer.from(s, 'utf8')];
}

const props = 'TAGS\u0001TagA\u0002KEYS\u0001k1 k2\u0002';
const base: MessageRecordInput = {
  topic: 'TopicTest',
  queueId: 3,
  flag: 7,
  queueOffset: 42,
  physicalOffset: 0x1_0000_0010,
  sysFlag: 0,
  bornTimestamp: 1700000000123,
  bornHost: { address: '10.0.0.1', port: 51000 },
  storeTimestamp: 1700000000456,
  storeHost: { address: '192.168.1.20', port: 10911 },
  reconsumeTimes: 2,
  preparedTransactionOffset: 0,
  body: Buffer.from('hello'),
  properties: props,
};

describe('record codec: byte-exact V1 / IPv4 layout', () => {
  it('matches the documented field table', () => {
    const crc = bodyCrc32(Buffer.from('hello'));
    const fields: number[] = [
      ...be32(0), // TOTALSIZE placeholder, patched below
      ...be32(0xdaa320a7), // MAGICCODE V1
      ...be32(crc), // BODYCRC
      ...be32(3), // QUEUEID
      ...be32(7), // FLAG
      ...be64(42), // QUEUEOFFSET
      ...be64(0x1_0000_0010), // PHYSICALOFFSET
      ...be32(0), // SYSFLAG
      ...be64(1700000000123), // BORNTIMESTAMP
      10,
      0,
      0,
      1,
      ...be32(51000), // BORNHOST
      ...be64(1700000000456), // STORETIMESTAMP
      192,
      168,
      1,
      20,
      ...be32(10911), // STOREHOST
      ...be32(2), // RECONSUMETIMES
      ...be64(0), // PREPARED TRANSACTION OFFSET
      ...be32(5),
      ...ascii('hello'), // BODY
      9,
      ...ascii('TopicTest'), // TOPIC (1-byte length)
      ...be16(Buffer.byteLength(props)),
      ...ascii(props), // PROPERTIES
    ];
    const expected = Buffer.from(fields);
    expected.writeInt32BE(expected.length, 0);
    expect(expected.length).toBe(91 + 5 + 9 + Buffer.byteLength(props));
    const actual = encodeMessageRecordToBuffer(base);
    expect(actual.toString('hex')).toBe(expected.toString('hex'));
    expect(measureMessageRecord(base)).toBe(expected.length);
    expect(messageRecordSize(5, 9, Buffer.byteLength(props))).toBe(expected.length);
    // handy constants from the doc
    expect(actual.readInt32BE(4)).toBe(MESSAGE_MAGIC_CODE_V1);
    expect(actual.readInt32BE(16)).toBe(7);
    expect(actual.readBigInt64BE(28)).toBe(0x1_0000_0010n);
    expect(actual.readBigInt64BE(56)).toBe(1700000000456n);
  });

  it('IPv6 born and store hosts set 0x10 / 0x20 and take 20 bytes each', () => {
    const m = { ...base, bornHost: { address: '2001:db8::1', port: 1 }, storeHost: { address: '::1', port: 10911 } };
    const buf = encodeMessageRecordToBuffer(m);
    expect(buf.length).toBe(encodeMessageRecordToBuffer(base).length + 24);
    const sys = buf.readInt32BE(36);
    expect(sys & MessageSysFlag.BORNHOST_V6_FLAG).toBe(0x10);
    expect(sys & MessageSysFlag.STOREHOSTADDRESS_V6_FLAG).toBe(0x20);
    const born = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, ...be32(1)];
    expect([...buf.subarray(48, 68)]).toEqual(born);
    expect(buf.readBigInt64BE(68)).toBe(1700000000456n); // store timestamp moved by 12
    const store = [...new Array<number>(15).fill(0), 1, ...be32(10911)];
    expect([...buf.subarray(76, 96)]).toEqual(store);
    expect(readStoreTimestamp(buf, 0)).toBe(1700000000456);
    const d = decodeMessageRecord(buf);
    expect(d.bornHost).toEqual({ address: '2001:db8::1', port: 1 });
    expect(d.storeHost).toEqual({ address: '::1', port: 10911 });
    expect(d.msgId).toHaveLength(56);
  });

  it('IPv4-mapped IPv6 addresses are written as IPv4 (pitfall 12)', () => {
    const m = { ...base, bornHost: { address: '::ffff:10.0.0.1', port: 51000 } };
    expect(encodeMessageRecordToBuffer(m).toString('hex')).toBe(encodeMessageRecordToBuffer(base).toString('hex'));
  });

  it('uses V2 (2-byte topic length) only for topics longer than 127 bytes', () => {
    const t127 = 'a'.repeat(127);
    const b127 = encodeMessageRecordToBuffer({ ...base, topic: t127 });
    expect(b127.readInt32BE(4)).toBe(MESSAGE_MAGIC_CODE_V1);
    const t128 = 'b'.repeat(128);
    const b = encodeMessageRecordToBuffer({ ...base, topic: t128 });
    expect(b.readInt32BE(4)).toBe(MESSAGE_MAGIC_CODE_V2);
    const topicPos = 88 + 5;
    expect(b.readInt16BE(topicPos)).toBe(128);
    expect(b.toString('utf8', topicPos + 2, topicPos + 2 + 128)).toBe(t128);
    expect(b.length).toBe(b127.length + 2);
    expect(decodeMessageRecord(b).topic).toBe(t128);
  });

  it('round-trips every field', () => {
    const m = { ...base, sysFlag: MessageSysFlag.TRANSACTION_COMMIT_TYPE | MessageSysFlag.MULTI_TAGS_FLAG, preparedTransactionOffset: 12345 };
    const buf = Buffer.alloc(1000, 0xee);
    const n = encodeMessageRecord(buf, 17, m);
    const d = decodeMessageRecord(buf, 17);
    expect(d.storeSize).toBe(n);
    expect(d).toMatchObject({
      topic: m.topic,
      queueId: 3,
      flag: 7,
      queueOffset: 42,
      commitLogOffset: m.physicalOffset,
      sysFlag: m.sysFlag,
      bornTimestamp: m.bornTimestamp,
      storeTimestamp: m.storeTimestamp,
      bornHost: m.bornHost,
      storeHost: m.storeHost,
      reconsumeTimes: 2,
      preparedTransactionOffset: 12345,
      propertiesString: props,
      bodyCRC: bodyCrc32(Buffer.from('hello')),
    });
    expect(d.body.toString()).toBe('hello');
    expect(d.properties.get('TAGS')).toBe('TagA');
    expect(d.msgId).toBe('C0A80114' + '00002A9F' + '0000000100000010');
  });

  it('handles negative-looking 64-bit values and empty body/properties', () => {
    const m = { ...base, body: Buffer.alloc(0), properties: '', queueOffset: 2 ** 40 + 5, bornTimestamp: 0 };
    const d = decodeMessageRecord(encodeMessageRecordToBuffer(m));
    expect(d.queueOffset).toBe(2 ** 40 + 5);
    expect(d.body.length).toBe(0);
    expect(d.properties.size).toBe(0);
  });

  it('untrustedStoreSize reads a check-back body whose TOTALSIZE is 0 or stale, and nothing else changes', () => {
    const a = encodeMessageRecordToBuffer(base);
    const zero = Buffer.from(a);
    zero.writeInt32BE(0, 0);
    expect(() => decodeMessageRecord(zero)).toThrow('bad record size 0');
    const d = decodeMessageRecord(zero, 0, { untrustedStoreSize: true });
    expect(d.storeSize).toBe(a.length);
    expect(d).toMatchObject({ topic: base.topic, queueOffset: 42, propertiesString: props });
    expect(d.body.toString()).toBe('hello');
    // A size left from another encoding of the message (longer or shorter than these bytes).
    for (const stale of [a.length + 30, a.length - 3]) {
      const b = Buffer.from(a);
      b.writeInt32BE(stale, 0);
      expect(() => decodeMessageRecord(b)).toThrow();
      expect(decodeMessageRecord(b, 0, { untrustedStoreSize: true }).properties.get('KEYS')).toBe('k1 k2');
    }
    // Still bounded by the buffer: a cut record fails.
    expect(() => decodeMessageRecord(zero.subarray(0, a.length - 1), 0, { untrustedStoreSize: true })).toThrow('bad properties length');
    expect(() => decodeMessageRecord(zero.subarray(0, 40), 0, { untrustedStoreSize: true })).toThrow('bad record size');
  });

  it('iterates concatenated records and stops at a BLANK', () => {
    const a = encodeMessageRecordToBuffer(base);
    const b = encodeMessageRecordToBuffer({ ...base, queueOffset: 43, body: Buffer.from('world!') });
    const blank = Buffer.alloc(16);
    encodeBlankRecord(blank, 0, 16);
    expect([...blank.subarray(0, 8)]).toEqual([...be32(16), 0xcb, 0xd4, 0x31, 0x94]);
    expect(blank.readInt32BE(4)).toBe(BLANK_MAGIC_CODE);
    const all = decodeMessageRecords(Buffer.concat([a, b, blank]));
    expect(all.map((x) => x.body.toString())).toEqual(['hello', 'world!']);
  });

  it('checkMessageRecord detects bad magic, bad CRC, truncation, wrong physical offset', () => {
    const a = encodeMessageRecordToBuffer(base);
    const ok = checkMessageRecord(a, 0, a.length, { checkCRC: true, expectedPhysicalOffset: base.physicalOffset });
    expect(ok.kind).toBe('record');
    if (ok.kind === 'record') {
      expect(ok.info.tagsCode).toBe(2598919); // "TagA".hashCode() in Java
      expect(ok.info.size).toBe(a.length);
    }
    const badMagic = Buffer.from(a);
    badMagic.writeInt32BE(0x12345678, 4);
    expect(checkMessageRecord(badMagic, 0, a.length).kind).toBe('corrupt');
    const badCrc = Buffer.from(a);
    badCrc[88] = 0x00; // first body byte
    expect(checkMessageRecord(badCrc, 0, a.length, { checkCRC: true }).kind).toBe('corrupt');
    expect(checkMessageRecord(badCrc, 0, a.length, { checkCRC: false }).kind).toBe('record');
    expect(checkMessageRecord(a, 0, a.length - 1).kind).toBe('corrupt');
    expect(checkMessageRecord(a, 0, a.length, { expectedPhysicalOffset: 1 }).kind).toBe('corrupt');
    expect(checkMessageRecord(Buffer.alloc(64), 0, 64).kind).toBe('end');
    expect(() => decodeMessageRecord(badMagic)).toThrow();
  });
});

describe('crc32', () => {
  it('matches the standard check value and java.util.zip.CRC32', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
    expect(crc32(Buffer.alloc(0))).toBe(0);
    expect(crc32(Buffer.from('The quick brown fox jumps over the lazy dog'))).toBe(0x414fa339);
  });
  it('slicing and bytewise paths agree on all lengths and offsets', () => {
    const data = Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 131 + 7) & 0xff));
    const bitwise = (b: Buffer): number => {
      let c = 0xffffffff;
      for (const x of b) {
        c ^= x;
        for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      }
      return (c ^ 0xffffffff) >>> 0;
    };
    for (let s = 0; s < 9; s++) for (let e = s; e <= 300; e += 7) expect(crc32(data, s, e)).toBe(bitwise(data.subarray(s, e)));
    expect(crc32(data, 100, 300, crc32(data, 0, 100))).toBe(crc32(data));
    expect(bodyCrc32(Buffer.from('123456789'))).toBe(0xcbf43926 & 0x7fffffff);
  });
  it('native and table implementations agree (1 KiB bodies, offsets, seeds)', () => {
    const data = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 197 + 13) & 0xff));
    for (const [s, e] of [
      [0, 1024],
      [3, 1027],
      [0, 4096],
      [100, 228],
      [1000, 1127],
    ] as const) {
      expect(crc32(data, s, e)).toBe(crc32Js(data, s, e));
      expect(crc32(data, s, e, 0xdeadbeef)).toBe(crc32Js(data, s, e, 0xdeadbeef));
    }
    expect(crc32(data, 2000, 4096, crc32(data, 0, 2000))).toBe(crc32Js(data));
  });
});

describe('properties string inside records', () => {
  it('encodes with a trailing separator', () => {
    expect(
      encodeProperties(
        new Map([
          ['A', '1'],
          ['B', '2'],
        ]),
      ),
    ).toBe('A\u00011\u0002B\u00012\u0002');
  });
});

describe('isStoredRecordIntact (the read path check)', () => {
  const rec = (topic = 'TopicA'): Buffer => encodeMessageRecordToBuffer({ ...base, topic });
  const where = (b: Buffer) => ({ physicalOffset: Number(b.readBigInt64BE(28)), queueId: b.readInt32BE(12), queueOffset: Number(b.readBigInt64BE(20)) });

  it('accepts an intact record (V1 and V2 topics) and refuses one whose unit points elsewhere', () => {
    for (const b of [rec(), rec('t'.repeat(200))]) {
      expect(isStoredRecordIntact(b, 0, b.length, where(b), true)).toBe(true);
      expect(isStoredRecordIntact(b, 0, b.length, { ...where(b), physicalOffset: where(b).physicalOffset + 1 }, true)).toBe(false);
      expect(isStoredRecordIntact(b, 0, b.length, { ...where(b), queueId: where(b).queueId + 1 }, false)).toBe(false);
      expect(isStoredRecordIntact(b, 0, b.length, { ...where(b), queueOffset: where(b).queueOffset + 1 }, false)).toBe(false);
      expect(isStoredRecordIntact(b, 0, b.length - 1, where(b), false)).toBe(false);
    }
  });

  it('refuses a flipped byte anywhere in the body (with checkCRC), in the magic or in a length field', () => {
    const b = rec();
    const w = where(b);
    const bodyAt = b.indexOf(Buffer.from('hello'));
    for (const at of [4, bodyAt, bodyAt + 4, bodyAt - 1, bodyAt + 5, b.length - 1 - Buffer.byteLength(props) - 1]) {
      const c = Buffer.from(b);
      c[at] = (c[at] as number) ^ 0x10;
      expect([at, isStoredRecordIntact(c, 0, c.length, w, true)]).toEqual([at, false]);
    }
  });
});
