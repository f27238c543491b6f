import { describe, expect, it } from '@jest/globals';
import { indexKeyHash, indexKeyHashOf, javaStringHashCode, tagsString2tagsCode } from './hash.js';
import { decodeProperties, encodeProperties, findProperty } from './properties.js';
import { decodeBatchBody, decodeBatchBodyRaw, encodeBatchBody, BatchDecodeError } from './batch.js';
import { createOffsetMsgId, decodeOffsetMsgId, hex16, UniqKeyGenerator, createUniqId } from './msgid.js';
import { formatAddress, writeAddress, writeSocketAddress } from './address.js';

describe('javaStringHashCode', () => {
  it('matches Java for ASCII, empty, wrap-around and non-BMP strings', () => {
    expect(javaStringHashCode('')).toBe(0);
    expect(javaStringHashCode('a')).toBe(97);
    expect(javaStringHashCode('TagA')).toBe(2598919);
    expect(javaStringHashCode('hello world')).toBe(1794106052);
    expect(javaStringHashCode('polygenelubricants')).toBe(-2147483648);
    expect(javaStringHashCode('Aa')).toBe(javaStringHashCode('BB'));
    // "é" = U+00E9; "😀" = surrogate pair D83D DE00 → 55357*31 + 56832
    expect(javaStringHashCode('é')).toBe(233);
    expect(javaStringHashCode('😀')).toBe(55357 * 31 + 56832);
    expect(tagsString2tagsCode(undefined)).toBe(0);
  });
  it('index key hash is abs() with MIN_VALUE → 0', () => {
    expect(indexKeyHash('polygenelubricants')).toBe(0);
    expect(indexKeyHash('hello world')).toBe(1794106052);
    for (const [t, k] of [
      ['T', 'k'],
      ['BenchTopic', '7F0000011F904ED7E48A10C6DE6A0001'],
      ['', ''],
      ['主题', 'ключ'],
      ['polygenelubricants', ''],
    ]) {
      expect(indexKeyHashOf(t!, k!)).toBe(indexKeyHash(`${t}#${k}`));
    }
    const neg = 'TopicTest#key-negative-hash-123';
    expect(indexKeyHash(neg)).toBe(Math.abs(javaStringHashCode(neg)));
  });
});

describe('properties codec', () => {
  it('round-trips and skips transient properties', () => {
    const m = new Map([
      ['TAGS', 'a'],
      ['KEYS', 'k1 k2'],
      ['__RMQ.TRANSIENT.X', 'y'],
      ['UNIQ_KEY', 'ABC'],
    ]);
    const s = encodeProperties(m);
    expect(s).toBe('TAGS\u0001a\u0002KEYS\u0001k1 k2\u0002UNIQ_KEY\u0001ABC\u0002');
    expect([...decodeProperties(s)]).toEqual([
      ['TAGS', 'a'],
      ['KEYS', 'k1 k2'],
      ['UNIQ_KEY', 'ABC'],
    ]);
    expect(encodeProperties({ A: 'b' })).toBe('A\u0001b\u0002');
  });
  it('tolerates a missing trailing separator and short or malformed segments', () => {
    expect([...decodeProperties('A\u00011\u0002B\u00012')]).toEqual([
      ['A', '1'],
      ['B', '2'],
    ]);
    expect([...decodeProperties('x\u0002A\u00011\u0002ab\u0002noSep\u0002\u0002')]).toEqual([['A', '1']]);
    expect([...decodeProperties('')]).toEqual([]);
    expect(decodeProperties('K\u0001\u0002').size).toBe(0); // "K\x01" is 2 chars: too short
    expect(decodeProperties('KK\u0001\u0002').get('KK')).toBe('');
  });
  it('findProperty matches whole names only', () => {
    const s = 'XTAGS\u0001no\u0002TAGS\u0001yes\u0002TAGSX\u0001no2\u0002';
    expect(findProperty(s, 'TAGS')).toBe('yes');
    expect(findProperty(s, 'KEYS')).toBeUndefined();
    expect(findProperty('TAGS\u0001last', 'TAGS')).toBe('last');
  });
});

describe('batch body codec', () => {
  it('matches the documented entry layout byte for byte', () => {
    const body = encodeBatchBody([{ flag: 5, body: Buffer.from('ab'), properties: new Map([['K', 'v']]) }]);
    const props = Buffer.from('K\u0001v\u0002');
    const expected = Buffer.concat([
      Buffer.from([0, 0, 0, 20 + 2 + 2 + 4]), // TOTALSIZE
      Buffer.from([0, 0, 0, 0]), // MAGICCODE
      Buffer.from([0, 0, 0, 0]), // BODYCRC
      Buffer.from([0, 0, 0, 5]), // FLAG
      Buffer.from([0, 0, 0, 2]),
      Buffer.from('ab'),
      Buffer.from([0, 4]),
      props,
    ]);
    expect(body.toString('hex')).toBe(expected.toString('hex'));
  });
  it('round-trips several entries and rejects truncation', () => {
    const entries = [
      { flag: 0, body: Buffer.from('one'), properties: new Map([['UNIQ_KEY', 'A']]) },
      { flag: 1, body: Buffer.alloc(0), properties: new Map<string, string>() },
      { flag: 2, body: Buffer.alloc(300, 1), properties: new Map([['TAGS', 't']]) },
    ];
    const buf = encodeBatchBody(entries);
    const back = decodeBatchBody(buf);
    expect(back.map((e) => [e.flag, e.body.length, [...e.properties]])).toEqual(entries.map((e) => [e.flag, e.body.length, [...e.properties]]));
    expect(decodeBatchBodyRaw(buf)[0]?.propertiesString).toBe('UNIQ_KEY\u0001A\u0002');
    expect(() => decodeBatchBody(buf.subarray(0, buf.length - 1))).toThrow(BatchDecodeError);
  });
});

describe('msgIds', () => {
  it('offset msgId: 32 hex chars for IPv4, 56 for IPv6, round-trip', () => {
    const id = createOffsetMsgId({ address: '10.1.2.3', port: 10911 }, 0x12345678ab);
    expect(id).toBe('0A010203' + '00002A9F' + '00000012345678AB');
    expect(decodeOffsetMsgId(id)).toEqual({ address: '10.1.2.3', port: 10911, commitLogOffset: 0x12345678ab });
    const id6 = createOffsetMsgId({ address: 'fe80::1:2', port: 10911 }, 7);
    expect(id6).toHaveLength(56);
    expect(decodeOffsetMsgId(id6)).toEqual({ address: 'fe80::1:2', port: 10911, commitLogOffset: 7 });
    expect(decodeOffsetMsgId('XYZ')).toBeUndefined();
  });
  it('UNIQ_KEY layout: ip, pid, hash, ms since month start, counter', () => {
    const g = new UniqKeyGenerator('192.168.0.1', 0x1234, 0x0a0b0c0d);
    const now = new Date(2026, 10, 26, 12, 0, 0, 5).getTime();
    const a = g.next(now);
    const b = g.next(now);
    expect(a).toHaveLength(32);
    expect(a.slice(0, 20)).toBe('C0A80001' + '1234' + '0A0B0C0D');
    const sinceMonth = now - new Date(2026, 10, 1).getTime();
    expect(Number.parseInt(a.slice(20, 28), 16)).toBe(sinceMonth);
    expect((Number.parseInt(b.slice(28), 16) - Number.parseInt(a.slice(28), 16)) & 0xffff).toBe(1);
    expect(createUniqId()).toMatch(/^[0-9A-F]{32}$/);
    // Same text as the Buffer + toString('hex') form it replaced, including a negative ms field.
    const ref = (t: number, c: number): string => {
      const tail = Buffer.alloc(6);
      tail.writeInt32BE(t | 0, 0);
      tail.writeUInt16BE(c, 4);
      return tail.toString('hex').toUpperCase();
    };
    const g2 = new UniqKeyGenerator('10.0.0.1', 1, 2);
    for (const t of [new Date(2026, 10, 1).getTime(), now, new Date(2026, 10, 30, 23, 59, 59, 999).getTime()]) {
      const id = g2.next(t);
      const c = Number.parseInt(id.slice(28), 16);
      expect(id.slice(20)).toBe(ref(t - new Date(new Date(t).getFullYear(), new Date(t).getMonth(), 1).getTime(), c));
    }
  });
  it('hex16 is the 16-digit uppercase hex of an offset', () => {
    for (const v of [0, 1, 0xff, 0x12345678ab, 2 ** 32, 2 ** 32 - 1, 2 ** 53 - 1, 1073741824 * 7 + 1234]) {
      expect(hex16(v)).toBe(v.toString(16).toUpperCase().padStart(16, '0'));
    }
  });
  it('writeSocketAddress gives the same bytes from its cache as from parsing', () => {
    const addrs = [
      { address: '127.0.0.1', port: 10911 },
      { address: 'fe80::1:2', port: 1 },
      { address: '::ffff:10.0.0.7', port: 65535 },
      { address: '192.168.1.20', port: -1 },
      { address: '2001:db8::1', port: 80 },
      { address: '10.9.8.7', port: 0 },
    ];
    const fresh = (a: { address: string; port: number }): Buffer => {
      const b = Buffer.alloc(20);
      const n = writeAddress(b, 0, a.address);
      b.writeInt32BE(a.port | 0, n);
      return b.subarray(0, n + 4);
    };
    for (let round = 0; round < 3; round++) {
      for (const a of [...addrs, ...addrs.slice().reverse()]) {
        const b = Buffer.alloc(24, 0xee);
        const n = writeSocketAddress(b, 2, a);
        expect(b.subarray(2, 2 + n)).toEqual(fresh(a));
        expect(b[2 + n]).toBe(0xee);
      }
    }
    expect(() => writeSocketAddress(Buffer.alloc(20), 0, { address: 'nope', port: 1 })).toThrow(RangeError);
  });
  it('address helpers format IPv6 compressed', () => {
    const buf = Buffer.alloc(16);
    expect(writeAddress(buf, 0, '2001:db8:0:0:1:0:0:1')).toBe(16);
    expect(formatAddress(buf, 0, 16)).toBe('2001:db8::1:0:0:1');
    expect(writeAddress(buf, 0, '1.2.3.4')).toBe(4);
    expect(() => writeAddress(buf, 0, 'not-an-ip')).toThrow(RangeError);
  });
});
