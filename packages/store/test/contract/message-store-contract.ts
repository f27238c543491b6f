// The behaviour any MessageStore must show, written once and run against each implementation
// (default-message-store.contract.test.ts runs it on DefaultMessageStore). Only the MessageStore
// interface is used here; what an implementation must provide beyond it is in MessageStoreHarness.
import { afterEach, describe, expect, it } from '@jest/globals';
import { MessageSysFlag } from '@rocketmq-ts/common';
import { checkMessageRecord, decodeMessageRecord, decodeOffsetMsgId, javaStringHashCode } from '@rocketmq-ts/protocol';
import {
  GetMessageStatus,
  PutMessageStatus,
  tagFilter,
  type DispatchEvent,
  type MessageStore,
  type MessageStoreConfig,
  type PutMessageRequest,
  type PutMessageResult,
} from '../../src/index.js';
import { body, rmDir, tmpDir } from '../helpers.js';

export interface ContractStoreOptions {
  /** The store's directory: a store created again on it finds what the last one left there. */
  dir: string;
  /** Wall clock for store timestamps. */
  now?: () => number;
  /** RocketMQ settings a test depends on (maxMessageSize, maxIndexNum, storeHost...). */
  config?: Partial<MessageStoreConfig>;
}

export interface MessageStoreHarness {
  /** A new store on opts.dir, not loaded yet. After shutdown(), another one on the same dir is a restart. */
  create(opts: ContractStoreOptions): MessageStore;
  /**
   * A crash of the process running `store` (which stays running): returns a directory holding what a
   * new process finds on disk (the OS keeps what was handed to it), to be opened with create().
   */
  crash(store: MessageStore, dir: string): Promise<string>;
  /** In a crashed directory, leaves a partly written record after the end of the log (a crash in mid-write). */
  tearTail(dir: string): void;
}

const STORE_HOST = { address: '127.0.0.1', port: 10911 };

/** Awaits a maybe-synchronous put (putMessageNow / putMessagesNow). */
async function now(r: PutMessageResult | Promise<PutMessageResult>): Promise<PutMessageResult> {
  return r instanceof Promise ? r : Promise.resolve(r);
}

function bodies(bufs: Buffer[]): string[] {
  return bufs.map((b) => decodeMessageRecord(b).body.toString());
}

export function describeMessageStoreContract(name: string, harness: MessageStoreHarness): void {
  describe(`MessageStore contract: ${name}`, () => {
    const dirs: string[] = [];
    const open: MessageStore[] = [];
    afterEach(async () => {
      for (const s of open.splice(0)) await s.shutdown();
      for (const d of dirs.splice(0)) rmDir(d);
    });
    function newDir(): string {
      const d = tmpDir('rmq-contract-');
      dirs.push(d);
      return d;
    }
    /** Creates, loads and starts a store; it is shut down after the test. */
    async function start(opts: ContractStoreOptions): Promise<MessageStore> {
      const s = harness.create({ ...opts, config: { storeHost: STORE_HOST, ...opts.config } });
      open.push(s);
      await s.load();
      await s.start();
      return s;
    }
    async function restart(s: MessageStore, opts: ContractStoreOptions): Promise<MessageStore> {
      await s.shutdown();
      open.splice(open.indexOf(s), 1);
      return start(opts);
    }
    /** Crashes `s` and starts a store on what it left; `dir` of the result is where that store lives. */
    async function crashAndOpen(s: MessageStore, dir: string, tear = false): Promise<{ store: MessageStore; dir: string }> {
      const copy = await harness.crash(s, dir);
      dirs.push(copy);
      if (tear) harness.tearTail(copy);
      return { store: await start({ dir: copy }), dir: copy };
    }
    /** Every message of a queue, by pulls of `batch`. */
    async function pullAll(s: MessageStore, topic: string, queueId: number, batch = 32): Promise<Buffer[]> {
      const out: Buffer[] = [];
      let off = s.getMinOffsetInQueue(topic, queueId);
      while (off < s.getMaxOffsetInQueue(topic, queueId)) {
        const g = await s.getMessage('g', topic, queueId, off, batch);
        expect(g.status).toBe(GetMessageStatus.FOUND);
        expect(g.messageQueueOffsets[0]).toBe(off);
        out.push(...g.messageBuffers);
        off = g.nextBeginOffset;
      }
      return out;
    }

    describe('put and get', () => {
      it('puts and gets messages with queue offsets, msgIds and stored bytes', async () => {
        const s = await start({ dir: newDir() });
        const r1 = await s.putMessage({ topic: 'T', queueId: 1, body: Buffer.from('a'), properties: { TAGS: 'x', KEYS: 'k1 k2', UNIQ_KEY: 'U1' } });
        const r2 = await s.putMessage({ topic: 'T', queueId: 1, body: Buffer.from('b') });
        expect(r1.status).toBe(PutMessageStatus.PUT_OK);
        expect(r1.appendResult?.logicsOffset).toBe(0);
        expect(r2.appendResult?.logicsOffset).toBe(1);
        expect(r1.appendResult?.wroteOffset).toBe(0);
        expect(decodeOffsetMsgId(r2.appendResult?.msgId ?? '')).toEqual({ ...STORE_HOST, commitLogOffset: r2.appendResult?.wroteOffset });
        const g = await s.getMessage('g', 'T', 1, 0, 10);
        expect(g.status).toBe(GetMessageStatus.FOUND);
        expect(bodies(g.messageBuffers)).toEqual(['a', 'b']);
        expect(g.nextBeginOffset).toBe(2);
        expect(g.messageQueueOffsets).toEqual([0, 1]);
        const m = decodeMessageRecord(g.messageBuffers[0] as Buffer);
        expect(m.magicCode).toBe(0xdaa320a7 | 0); // V1 with IPv4 hosts
        expect(m.properties.get('KEYS')).toBe('k1 k2');
        expect([m.queueId, m.queueOffset, m.commitLogOffset]).toEqual([1, 0, 0]);
        expect((await s.getMessage('g', 'T', 1, 2, 10)).status).toBe(GetMessageStatus.OFFSET_OVERFLOW_ONE);
        expect((await s.getMessage('g', 'T', 1, 5, 10)).status).toBe(GetMessageStatus.OFFSET_OVERFLOW_BADLY);
        expect((await s.getMessage('g', 'T', 9, 0, 10)).status).toBe(GetMessageStatus.NO_MATCHED_LOGIC_QUEUE);
        expect(s.getMaxOffsetInQueue('T', 1)).toBe(2);
        expect(s.getMaxOffsetInQueue('T', 9)).toBe(0);
      });

      it('batches: one record per message, contiguous, first queue offset, comma-joined msgIds', async () => {
        const s = await start({ dir: newDir() });
        await s.putMessage({ topic: 'B', queueId: 0, body: Buffer.from('pre') });
        const r = await s.putMessages([0, 1, 2].map((i) => ({ topic: 'B', queueId: 0, body: Buffer.from(`m${i}`) })));
        expect(r.status).toBe('PUT_OK');
        expect(r.appendResult?.logicsOffset).toBe(1);
        expect(r.appendResult?.msgNum).toBe(3);
        const ids = r.appendResult?.msgId.split(',') ?? [];
        expect(ids).toHaveLength(3);
        const g = await s.getMessage('g', 'B', 0, 1, 10);
        expect(bodies(g.messageBuffers)).toEqual(['m0', 'm1', 'm2']);
        // contiguous from wroteOffset, each msgId naming its own record
        let phy = r.appendResult?.wroteOffset ?? -1;
        g.messageBuffers.forEach((b, i) => {
          expect(decodeOffsetMsgId(ids[i] as string)?.commitLogOffset).toBe(phy);
          expect(decodeMessageRecord(b).commitLogOffset).toBe(phy);
          phy += b.length;
        });
        expect(phy).toBe((r.appendResult?.wroteOffset ?? 0) + (r.appendResult?.wroteBytes ?? 0));
      });

      it('rejects illegal messages with statuses, not exceptions', async () => {
        const s = await start({ dir: newDir(), config: { maxMessageSize: 1000 } });
        expect((await s.putMessage({ topic: 'T', queueId: 0, body: Buffer.alloc(1001) })).status).toBe(PutMessageStatus.MESSAGE_ILLEGAL);
        expect((await s.putMessage({ topic: '', queueId: 0, body: Buffer.alloc(1) })).status).toBe(PutMessageStatus.MESSAGE_ILLEGAL);
        expect((await s.putMessage({ topic: 'T', queueId: -1, body: Buffer.alloc(1) })).status).toBe(PutMessageStatus.MESSAGE_ILLEGAL);
        expect((await s.putMessage({ topic: 'T', queueId: 0, body: Buffer.alloc(1), properties: { P: 'x'.repeat(40000) } })).status).toBe(
          PutMessageStatus.PROPERTIES_SIZE_EXCEEDED,
        );
        expect(
          (
            await s.putMessages([
              { topic: 'T', queueId: 0, body: Buffer.alloc(1) },
              { topic: 'U', queueId: 0, body: Buffer.alloc(1) },
            ])
          ).status,
        ).toBe(PutMessageStatus.MESSAGE_ILLEGAL);
        expect((await s.putMessages([])).status).toBe(PutMessageStatus.MESSAGE_ILLEGAL);
        expect(s.getMaxOffsetInQueue('T', 0)).toBe(0);
        expect(s.getMaxPhyOffset()).toBe(0);
      });

      it('writes V2 records for long topics and IPv6 host flags', async () => {
        const s = await start({ dir: newDir() });
        const topic = 'L'.repeat(200);
        await s.putMessage({ topic, queueId: 0, body: Buffer.from('x'), bornHost: { address: '::1', port: 5 } });
        const g = await s.getMessage('g', topic, 0, 0, 1);
        const m = decodeMessageRecord(g.messageBuffers[0] as Buffer);
        expect(m.magicCode).toBe(0xdaa320ab | 0);
        expect(m.sysFlag & MessageSysFlag.BORNHOST_V6_FLAG).toBe(0x10);
        expect(m.topic).toBe(topic);
      });

      it('transaction PREPARED/ROLLBACK get queue offset 0 and skip the consume queue; tagsCode override is stored', async () => {
        const s = await start({ dir: newDir() });
        const half = await s.putMessage({
          topic: 'TX',
          queueId: 0,
          body: Buffer.from('h'),
          sysFlag: MessageSysFlag.TRANSACTION_PREPARED_TYPE,
          properties: { UNIQ_KEY: 'HALF' },
        });
        expect(half.appendResult?.logicsOffset).toBe(0);
        await s.putMessage({ topic: 'TX', queueId: 0, body: Buffer.from('r'), sysFlag: MessageSysFlag.TRANSACTION_ROLLBACK_TYPE });
        expect(s.getMaxOffsetInQueue('TX', 0)).toBe(0);
        const c = await s.putMessage({ topic: 'TX', queueId: 0, body: Buffer.from('c'), sysFlag: MessageSysFlag.TRANSACTION_COMMIT_TYPE });
        expect(c.appendResult?.logicsOffset).toBe(0);
        expect(s.getMaxOffsetInQueue('TX', 0)).toBe(1);
        // the half message is found by its key (the transaction check looks it up), the rollback is not indexed
        expect((await s.queryMessageByUniqKey('TX', 'HALF')).messageBuffers).toHaveLength(1);
        // delay topic: explicit tags code = deliver time
        await s.putMessage({ topic: 'SCHEDULE_TOPIC_XXXX', queueId: 2, body: Buffer.from('d'), tagsCode: 123456789 });
        const seen: number[] = [];
        await s.getMessage('g', 'SCHEDULE_TOPIC_XXXX', 2, 0, 1, undefined, { isMatchedByConsumeQueue: (t) => (seen.push(t), true) });
        expect(seen).toEqual([123456789]);
      });

      it('filters by tag hash and exact tag; maxBytes stops a pull after the first message', async () => {
        const s = await start({ dir: newDir() });
        for (let i = 0; i < 10; i++) await s.putMessage({ topic: 'F', queueId: 0, body: body(i), properties: { TAGS: i % 2 === 0 ? 'even' : 'odd' } });
        const g = await s.getMessage('g', 'F', 0, 0, 3, undefined, tagFilter(['odd']));
        expect(g.messageQueueOffsets).toEqual([1, 3, 5]);
        expect(g.nextBeginOffset).toBe(6);
        const none = await s.getMessage('g', 'F', 0, 0, 3, undefined, tagFilter(['nope']));
        expect(none.status).toBe(GetMessageStatus.NO_MATCHED_MESSAGE);
        expect(none.nextBeginOffset).toBe(10);
        const small = await s.getMessage('g', 'F', 0, 0, 10, 1);
        expect(small.messageBuffers).toHaveLength(1);
      });

      it('putMessageNow / putMessagesNow + writeAppended: appended at once, in the files after writeAppended', async () => {
        const dir = newDir();
        const s = await start({ dir });
        const results: PutMessageResult[] = [];
        for (let i = 0; i < 50; i++) results.push(await now(s.putMessageNow({ topic: 'W', queueId: i % 2, body: body(i) })));
        results.push(await now(s.putMessagesNow([50, 51, 52].map((i) => ({ topic: 'W', queueId: 0, body: body(i) })))));
        expect(results.every((r) => r.status === PutMessageStatus.PUT_OK)).toBe(true);
        // readable at once, before writeAppended
        expect(s.getMaxOffsetInQueue('W', 0) + s.getMaxOffsetInQueue('W', 1)).toBe(53);
        expect(s.writeAppended()).toBe(true);
        expect(s.writeAppended()).toBe(true); // nothing new: still fine
        const { store: s2 } = await crashAndOpen(s, dir);
        expect(s2.recoveryReport?.mode).toBe('abnormal');
        const q0 = (await pullAll(s2, 'W', 0)).map((b) => decodeMessageRecord(b).body);
        const q1 = (await pullAll(s2, 'W', 1)).map((b) => decodeMessageRecord(b).body);
        expect(q0.length + q1.length).toBe(53);
        q1.forEach((b, k) => expect(b.equals(body(2 * k + 1))).toBe(true));
        expect(q0[q0.length - 1]?.equals(body(52))).toBe(true);
      });
    });

    describe('offsets and lookups', () => {
      it('queue min/max offsets, commit-log offsets and store timestamps by queue offset', async () => {
        let clock = 1_700_000_000_000;
        const s = await start({ dir: newDir(), now: () => clock });
        expect(await s.getEarliestMessageTime()).toBe(-1);
        const puts: PutMessageResult[] = [];
        for (let i = 0; i < 6; i++) {
          clock += 1000;
          puts.push(await s.putMessage({ topic: 'O', queueId: 3, body: body(i) }));
        }
        expect([s.getMinOffsetInQueue('O', 3), s.getMaxOffsetInQueue('O', 3)]).toEqual([0, 6]);
        expect([s.getMinOffsetInQueue('O', 4), s.getMaxOffsetInQueue('O', 4)]).toEqual([0, 0]);
        for (let i = 0; i < 6; i++) {
          const a = puts[i]?.appendResult;
          expect(await s.getCommitLogOffsetInQueue('O', 3, i)).toBe(a?.wroteOffset);
          expect(await s.getMessageStoreTimeStamp('O', 3, i)).toBe(a?.storeTimestamp);
          expect(a?.storeTimestamp).toBe(1_700_000_000_000 + (i + 1) * 1000);
        }
        expect(await s.getCommitLogOffsetInQueue('O', 3, 6)).toBe(-1);
        expect(await s.getMessageStoreTimeStamp('O', 3, 6)).toBe(-1);
        expect(await s.getMessageStoreTimeStamp('O', 4, 0)).toBe(-1);
        expect(await s.getEarliestMessageTime('O', 3)).toBe(1_700_000_001_000);
        expect(await s.getEarliestMessageTime('O', 4)).toBe(-1);
        expect(await s.getEarliestMessageTime()).toBe(1_700_000_001_000);
        const last = puts[5]?.appendResult;
        expect(s.getMinPhyOffset()).toBe(0);
        expect(s.getMaxPhyOffset()).toBe((last?.wroteOffset ?? 0) + (last?.wroteBytes ?? 0));
      });

      it('finds offsets by store time with lower and upper boundaries', async () => {
        let clock = 1000;
        const s = await start({ dir: newDir(), now: () => clock });
        for (const t of [1000, 1000, 2000, 2000, 2000, 3000]) {
          clock = t;
          await s.putMessage({ topic: 'TS', queueId: 0, body: body(t) });
        }
        const at = (ts: number, b?: 'lower' | 'upper'): Promise<number> => s.getOffsetInQueueByTime('TS', 0, ts, b);
        const cases: [number, number, number][] = [
          // timestamp, lower, upper
          [500, 0, 0],
          [1000, 0, 1],
          [1500, 2, 1],
          [2000, 2, 4],
          [2500, 5, 4],
          [3000, 5, 5],
          [3500, 6, 5],
        ];
        for (const [ts, lower, upper] of cases) {
          expect([ts, await at(ts)]).toEqual([ts, lower]);
          expect([ts, await at(ts, 'lower')]).toEqual([ts, lower]);
          expect([ts, await at(ts, 'upper')]).toEqual([ts, upper]);
        }
        expect(await s.getOffsetInQueueByTime('TS', 9, 1000, 'upper')).toBe(0);
      });

      it('looks messages up by commit-log offset', async () => {
        const s = await start({ dir: newDir() });
        const a = (await s.putMessage({ topic: 'L', queueId: 0, body: Buffer.from('first') })).appendResult;
        const b = (await s.putMessage({ topic: 'L', queueId: 0, body: Buffer.from('second'), properties: { KEYS: 'kb' } })).appendResult;
        if (a === undefined || b === undefined) throw new Error('put failed');
        expect((await s.lookMessageByOffset(b.wroteOffset))?.body.toString()).toBe('second');
        expect((await s.lookMessageByOffset(a.wroteOffset))?.properties.get('KEYS')).toBeUndefined();
        const rec = await s.selectOneMessageByOffset(b.wroteOffset);
        expect(rec?.length).toBe(b.wroteBytes);
        expect(checkMessageRecord(rec as Buffer, 0, b.wroteBytes, { checkCRC: true, expectedPhysicalOffset: b.wroteOffset }).kind).toBe('record');
        expect(
          (await s.selectOneMessageByOffset(a.wroteOffset, a.wroteBytes))?.equals((await s.getMessage('g', 'L', 0, 0, 1)).messageBuffers[0] as Buffer),
        ).toBe(true);
        expect(await s.selectOneMessageByOffset(s.getMaxPhyOffset())).toBeUndefined();
        expect(await s.lookMessageByOffset(s.getMaxPhyOffset() + 100)).toBeUndefined();
      });

      it('queries by key and UNIQ_KEY within a time range', async () => {
        let t = 1_700_000_000_000;
        const s = await start({ dir: newDir(), now: () => t, config: { maxIndexNum: 20 } });
        for (let i = 0; i < 50; i++) {
          t += 1000;
          await s.putMessage({ topic: 'Q', queueId: 0, body: body(i), properties: { KEYS: `order-${i % 10} all`, UNIQ_KEY: `UID${i}` } });
        }
        const r = await s.queryMessage('Q', 'order-3', 100, 0, Number.MAX_SAFE_INTEGER);
        expect(r.messageBuffers.map((b) => decodeMessageRecord(b).properties.get('UNIQ_KEY')).sort()).toEqual(['UID13', 'UID23', 'UID3', 'UID33', 'UID43']);
        expect(r.bufferTotalSize).toBe(r.messageBuffers.reduce((n, b) => n + b.length, 0));
        const u = await s.queryMessageByUniqKey('Q', 'UID17');
        expect(u.messageBuffers.map((b) => decodeMessageRecord(b).body.equals(body(17)))).toEqual([true]);
        const ranged = await s.queryMessage('Q', 'all', 100, 1_700_000_000_000 + 10_000, 1_700_000_000_000 + 20_000);
        expect(ranged.messageBuffers.length).toBeGreaterThanOrEqual(10);
        expect(ranged.messageBuffers.length).toBeLessThanOrEqual(12);
        expect((await s.queryMessage('Q', 'all', 3, 0, Number.MAX_SAFE_INTEGER)).messageBuffers.length).toBeLessThanOrEqual(3);
        expect((await s.queryMessage('Other', 'order-3', 100, 0, Number.MAX_SAFE_INTEGER)).messageBuffers).toHaveLength(0);
        expect((await s.queryMessage('Q', 'no-such-key', 100, 0, Number.MAX_SAFE_INTEGER)).messageBuffers).toHaveLength(0);
        expect(await s.getOffsetInQueueByTime('Q', 0, 1_700_000_000_000 + 10_500)).toBe(10);
      });
    });

    describe('deleteTopics', () => {
      it("drops the topics' queues; a topic created again starts empty, also after a restart", async () => {
        const dir = newDir();
        const s = await start({ dir });
        for (let i = 0; i < 3; i++) await s.putMessage({ topic: 'Gone', queueId: i % 2, body: Buffer.from(`g${i}`) });
        await s.putMessage({ topic: 'Kept', queueId: 0, body: Buffer.from('k') });
        expect(await s.deleteTopics(['Gone', 'NeverExisted'])).toBe(1);
        expect(s.getMaxOffsetInQueue('Gone', 0)).toBe(0);
        expect((await s.getMessage('g', 'Gone', 0, 0, 10)).status).toBe(GetMessageStatus.NO_MATCHED_LOGIC_QUEUE);
        const again = await s.putMessage({ topic: 'Gone', queueId: 0, body: Buffer.from('new') });
        expect(again.appendResult?.logicsOffset).toBe(0);
        expect(s.getMaxOffsetInQueue('Kept', 0)).toBe(1);
        const s2 = await restart(s, { dir });
        expect(bodies((await s2.getMessage('g', 'Gone', 0, 0, 10)).messageBuffers)).toEqual(['new']);
        expect(s2.getMaxOffsetInQueue('Gone', 1)).toBe(0);
        expect(bodies((await s2.getMessage('g', 'Kept', 0, 0, 10)).messageBuffers)).toEqual(['k']);
      });
    });

    describe('dispatch events', () => {
      it('one event per message added to a consume queue, after it is readable; none for PREPARED/ROLLBACK', async () => {
        const s = await start({ dir: newDir() });
        const events: DispatchEvent[] = [];
        const readable: number[] = [];
        const off = s.onDispatch((e) => {
          events.push(e);
          readable.push(s.getMaxOffsetInQueue(e.topic, e.queueId));
        });
        s.onDispatch(() => {
          throw new Error('a failing listener does not fail the put');
        });
        const r1 = await s.putMessage({ topic: 'E', queueId: 1, body: Buffer.from('a'), properties: { TAGS: 'x' } });
        await s.putMessage({ topic: 'E', queueId: 1, body: Buffer.from('h'), sysFlag: MessageSysFlag.TRANSACTION_PREPARED_TYPE });
        await s.putMessage({ topic: 'E', queueId: 1, body: Buffer.from('r'), sysFlag: MessageSysFlag.TRANSACTION_ROLLBACK_TYPE });
        const r2 = await s.putMessages([
          { topic: 'E', queueId: 1, body: Buffer.from('b') },
          { topic: 'E', queueId: 1, body: Buffer.from('c'), properties: { TAGS: 'y' } },
        ]);
        expect(r2.status).toBe(PutMessageStatus.PUT_OK);
        expect(events.map((e) => [e.topic, e.queueId, e.queueOffset, e.tagsCode])).toEqual([
          ['E', 1, 0, javaStringHashCode('x')],
          ['E', 1, 1, 0],
          ['E', 1, 2, javaStringHashCode('y')],
        ]);
        expect(readable).toEqual([1, 2, 3]);
        const e0 = events[0] as DispatchEvent;
        expect([e0.commitLogOffset, e0.msgSize, e0.storeTimestamp]).toEqual([
          r1.appendResult?.wroteOffset,
          r1.appendResult?.wroteBytes,
          r1.appendResult?.storeTimestamp,
        ]);
        expect(e0.propertiesString).toContain('TAGS');
        off();
        await s.putMessage({ topic: 'E', queueId: 1, body: Buffer.from('d') });
        expect(events).toHaveLength(3);
      });
    });

    describe('recovery', () => {
      /** n messages over 2 queues of topic RT, with keys; returns the results. */
      async function fill(s: MessageStore, n: number, from = 0): Promise<PutMessageResult[]> {
        const out: PutMessageResult[] = [];
        for (let i = from; i < from + n; i++) {
          out.push(await s.putMessage({ topic: 'RT', queueId: i % 2, body: body(i, 700), properties: { KEYS: `key${i}` } }));
        }
        expect(out.every((r) => r.status === PutMessageStatus.PUT_OK)).toBe(true);
        return out;
      }
      /** A store on a new directory holding fill(n), and the end of its log. */
      async function filled(n: number): Promise<{ s: MessageStore; dir: string; end: number }> {
        const dir = newDir();
        const s = await start({ dir });
        await fill(s, n);
        return { s, dir, end: s.getMaxPhyOffset() };
      }
      /** Queues hold messages 0..n-1 in order, intact, nothing else. */
      async function expectQueuesMatch(s: MessageStore, n: number): Promise<void> {
        let total = 0;
        for (const q of [0, 1]) {
          const recs = await pullAll(s, 'RT', q, 64);
          total += recs.length;
          recs.forEach((b, k) => {
            const m = decodeMessageRecord(b);
            expect([m.queueId, m.queueOffset]).toEqual([q, k]);
            expect(m.body.equals(body(2 * k + q, 700))).toBe(true);
            expect(checkMessageRecord(b, 0, b.length, { checkCRC: true }).kind).toBe('record');
          });
        }
        expect(total).toBe(n);
      }

      it('a clean restart is a normal recovery and keeps everything; appends continue', async () => {
        const { s, dir, end } = await filled(200);
        const s2 = await restart(s, { dir });
        expect(s2.recoveryReport?.mode).toBe('normal');
        expect(s2.recoveryReport?.bytesTruncated).toBe(0);
        expect(s2.recoveryReport?.maxPhyOffset).toBe(end);
        expect(s2.getMaxPhyOffset()).toBe(end);
        await expectQueuesMatch(s2, 200);
        const more = await fill(s2, 10, 200);
        expect(more[0]?.appendResult?.wroteOffset).toBe(end);
        await expectQueuesMatch(s2, 210);
        expect((await s2.queryMessage('RT', 'key7', 10, 0, Number.MAX_SAFE_INTEGER)).messageBuffers).toHaveLength(1);
      });

      it('an unclean restart keeps every put that resolved', async () => {
        const { s, dir, end } = await filled(150);
        const { store: s2 } = await crashAndOpen(s, dir);
        expect(s2.recoveryReport?.mode).toBe('abnormal');
        expect(s2.getMaxPhyOffset()).toBe(end);
        await expectQueuesMatch(s2, 150);
        expect((await s2.queryMessage('RT', 'key149', 10, 0, Number.MAX_SAFE_INTEGER)).messageBuffers).toHaveLength(1);
      });

      it('an unclean restart truncates a torn tail; appends continue where the last whole record ended and survive restarts', async () => {
        const { s, dir, end } = await filled(120);
        const { store: s2, dir: crashed } = await crashAndOpen(s, dir, true);
        const rep = s2.recoveryReport;
        expect(rep?.mode).toBe('abnormal');
        expect(rep?.bytesTruncated).toBeGreaterThan(0);
        expect(rep?.maxPhyOffset).toBe(end);
        await expectQueuesMatch(s2, 120);
        const more = await fill(s2, 5, 120);
        expect(more[0]?.appendResult?.wroteOffset).toBe(end);
        const s3 = await restart(s2, { dir: crashed });
        expect(s3.recoveryReport?.bytesTruncated).toBe(0);
        await expectQueuesMatch(s3, 125);
      });

      it('an unclean restart after putMessageNow without writeAppended shows only whole records', async () => {
        const dir = newDir();
        const s = await start({ dir });
        await fill(s, 20);
        const pending: PutMessageRequest[] = Array.from({ length: 30 }, (_, k) => ({
          topic: 'RT',
          queueId: (20 + k) % 2,
          body: body(20 + k, 700),
          properties: { KEYS: `key${20 + k}` },
        }));
        for (const m of pending) expect((await now(s.putMessageNow(m))).status).toBe(PutMessageStatus.PUT_OK);
        const { store: s2 } = await crashAndOpen(s, dir);
        // the acknowledged 20 at least, then a prefix of the rest: never a gap or a partial record
        const n = s2.getMaxOffsetInQueue('RT', 0) + s2.getMaxOffsetInQueue('RT', 1);
        expect(n).toBeGreaterThanOrEqual(20);
        await expectQueuesMatch(s2, n);
      });
    });
  });
}
