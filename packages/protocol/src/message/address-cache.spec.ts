import { describe, expect, it } from '@jest/globals';
import { readSocketAddress, writeSocketAddress } from './address.js';
import { createOffsetMsgId, decodeOffsetMsgId } from './msgid.js';

// The decoder keeps the strings of recent IPv4 addresses and the hex of the last store host; these
// tests switch hosts more often than the caches hold them and check every answer against the bytes.
const hosts = [
  { address: '127.0.0.1', port: 10911 },
  { address: '10.0.0.7', port: 10911 },
  { address: '10.0.0.7', port: 10921 },
  { address: '192.168.1.200', port: 65535 },
  { address: '255.255.255.255', port: 0 },
  { address: '0.0.0.0', port: 1 },
  { address: '::1', port: 10911 },
  { address: 'fe80::1:2', port: 8080 },
];

describe('address and msgId caches', () => {
  it('reads back every address written, in any order', () => {
    const buf = Buffer.alloc(20);
    for (let i = 0; i < 200; i++) {
      const h = hosts[(i * 7 + (i >> 3)) % hosts.length]!;
      const n = writeSocketAddress(buf, 0, h);
      expect(readSocketAddress(buf, 0, (n - 4) as 4 | 16)).toEqual(h);
    }
  });

  it('builds the same msgId as the bytes give, switching hosts and offsets', () => {
    const offsets = [0, 1, 4095, 2 ** 32 - 1, 2 ** 32, 2 ** 40 + 12345, Number.MAX_SAFE_INTEGER];
    for (let i = 0; i < 300; i++) {
      const h = hosts[(i * 5 + (i >> 2)) % hosts.length]!;
      const off = offsets[i % offsets.length]!;
      const id = createOffsetMsgId(h, off);
      // The uncached form: [address][port][offset] in hex, upper case.
      const b = Buffer.alloc(28);
      const n = writeSocketAddress(b, 0, h);
      b.writeBigInt64BE(BigInt(off), n);
      expect(id).toBe(b.toString('hex', 0, n + 8).toUpperCase());
      expect(decodeOffsetMsgId(id)).toEqual({ address: h.address, port: h.port, commitLogOffset: off });
    }
  });
});

describe('topic string reuse in the record decoder', () => {
  it('gives each record its own topic when topics of the same length alternate', async () => {
    const { encodeMessageRecordToBuffer, decodeMessageRecords } = await import('./record.js');
    const topics = ['topic-a', 'topic-b', 'topic-a', 'tópico', 'x', 'topic-b', 'topic-b', 'a'.repeat(300)];
    const body = Buffer.concat(
      topics.map((topic, i) =>
        encodeMessageRecordToBuffer({
          topic,
          queueId: i,
          flag: 0,
          queueOffset: i,
          physicalOffset: 0,
          sysFlag: 0,
          bornTimestamp: 1,
          bornHost: hosts[i % hosts.length]!,
          storeTimestamp: 2,
          storeHost: hosts[(i + 3) % hosts.length]!,
          reconsumeTimes: 0,
          preparedTransactionOffset: 0,
          body: Buffer.from(`b${i}`),
          properties: `K\u0001${i}\u0002`,
        }),
      ),
    );
    const got = decodeMessageRecords(body);
    expect(got.map((m) => m.topic)).toEqual(topics);
    expect(got.map((m) => m.bornHost)).toEqual(topics.map((_, i) => hosts[i % hosts.length]));
    expect(got.map((m) => m.storeHost)).toEqual(topics.map((_, i) => hosts[(i + 3) % hosts.length]));
  });
});
