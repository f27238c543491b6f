// Corruption: random bytes of the commit log, consume queues, index files and checkpoint are
// flipped, zeroed or overwritten (seeded: the seed is in the test name), then the store recovers.
// Recovery must not throw, the store must keep working, and nothing it serves may be damaged:
// every record read passes magic, size, offset and body-CRC checks and is the message its queue
// position says; a query by key returns only messages with that key.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { checkMessageRecord, decodeMessageRecord, findProperty } from '@rocketmq-ts/protocol';
import type { DefaultMessageStore } from '../src/index.js';
import { seededRandom } from '../src/testing/power-cut.js';
import { body, copyAsCrashed, openStore, rmDir, tmpDir } from './helpers.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach(rmDir));

const TOPICS = ['CorA', 'CorB'];
const QUEUES = 3;
const MESSAGES = 1500;
const bodyOf = (seq: number): Buffer => body(seq, 40 + ((seq * 53) % 700));
const config = { mappedFileSizeCommitLog: 64 * 1024, mappedFileSizeConsumeQueue: 20 * 100, maxHashSlotNum: 97, maxIndexNum: 400 };

type Kind = 'commitlog' | 'consumequeue' | 'index' | 'checkpoint' | 'everything';

/** Commit-log offset → message seq of the stores built below (the same for both). */
const seqAt = new Map<number, number>();

/** A store with MESSAGES messages, stopped cleanly or (crashed) copied while running. */
async function buildStore(crashed: boolean): Promise<string> {
  const dir = tmpDir('rmq-corrupt-');
  dirs.push(dir);
  const store = await openStore(dir, config);
  for (let seq = 0; seq < MESSAGES; seq++) {
    const r = await store.putMessage({
      topic: TOPICS[seq % TOPICS.length] as string,
      queueId: seq % QUEUES,
      body: bodyOf(seq),
      properties: { KEYS: `k${seq}`, TAGS: `t${seq % 3}` },
    });
    if (r.status !== 'PUT_OK' || r.appendResult === undefined) throw new Error(r.status);
    seqAt.set(r.appendResult.wroteOffset, seq);
  }
  if (!crashed) {
    await store.shutdown();
    return dir;
  }
  await store.flushLogics();
  const copy = copyAsCrashed(dir);
  dirs.push(copy);
  await store.shutdown();
  return copy;
}

function filesOf(dir: string, kind: Exclude<Kind, 'everything'>): string[] {
  const walk = (d: string): string[] =>
    fs.existsSync(d) ? fs.readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(d, e.name)) : [path.join(d, e.name)])) : [];
  switch (kind) {
    case 'commitlog':
      return walk(path.join(dir, 'commitlog'));
    case 'consumequeue':
      return walk(path.join(dir, 'consumequeue'));
    case 'index':
      return walk(path.join(dir, 'index'));
    case 'checkpoint':
      return [path.join(dir, 'checkpoint')];
  }
}

/** Damages `hits` random places of the kind's files; returns a description of each. */
function corrupt(dir: string, kind: Kind, random: () => number, hits: number): string[] {
  const kinds: Array<Exclude<Kind, 'everything'>> = kind === 'everything' ? ['commitlog', 'consumequeue', 'index', 'checkpoint'] : [kind];
  const done: string[] = [];
  for (let h = 0; h < hits; h++) {
    const k = kinds[Math.floor(random() * kinds.length)] as Exclude<Kind, 'everything'>;
    const files = filesOf(dir, k);
    const file = files[Math.floor(random() * files.length)];
    if (file === undefined) continue;
    const size = fs.statSync(file).size;
    if (size === 0) continue;
    // Mostly where the data is: the checkpoint's first 96 bytes, a file's non-zero prefix.
    const content = fs.readFileSync(file);
    let dataEnd = content.length;
    while (dataEnd > 0 && content[dataEnd - 1] === 0) dataEnd--;
    const span = k === 'checkpoint' ? 96 : Math.max(1, random() < 0.9 ? dataEnd : size);
    const at = Math.floor(random() * span);
    const how = random();
    const len = Math.min(size - at, 1 + Math.floor(random() * (how < 0.5 ? 4 : 64)));
    const patch = Buffer.alloc(len);
    if (how < 0.5) {
      for (let i = 0; i < len; i++) patch[i] = (content[at + i] as number) ^ (1 << Math.floor(random() * 8));
    } else if (how < 0.75) {
      patch.fill(0);
    } else {
      for (let i = 0; i < len; i++) patch[i] = Math.floor(random() * 256);
    }
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, patch, 0, len, at);
    fs.closeSync(fd);
    done.push(`${path.relative(dir, file)}@${at}+${len} ${how < 0.5 ? 'flip' : how < 0.75 ? 'zero' : 'garbage'}`);
  }
  return done;
}

function seqOf(propertiesString: string): number {
  const k = findProperty(propertiesString, 'KEYS') ?? '';
  return /^k\d+$/.test(k) ? Number(k.slice(1)) : -1;
}

/**
 * Reads every queue and queries keys; returns what was wrong with what was served. `headerOnly`
 * counts records whose properties were damaged: the format's CRC covers the body only (RocketMQ's
 * too), so such damage is undetectable and is counted apart, not as served corruption.
 */
async function servedDamage(
  store: DefaultMessageStore,
  topics: readonly string[],
  queues: number,
  keys: number[],
): Promise<{ bad: string[]; served: number; headerOnly: number }> {
  const bad: string[] = [];
  let served = 0;
  let headerOnly = 0;
  for (const topic of topics) {
    for (let q = 0; q < queues; q++) {
      let off = store.getMinOffsetInQueue(topic, q);
      const max = store.getMaxOffsetInQueue(topic, q);
      for (let guard = 0; off < max && guard < 10_000; guard++) {
        const g = await store.getMessage('g', topic, q, off, 32);
        for (let i = 0; i < g.messageBuffers.length; i++) {
          const rec = g.messageBuffers[i] as Buffer;
          const qo = g.messageQueueOffsets[i] as number;
          const r = checkMessageRecord(rec, 0, rec.length, { checkCRC: true });
          if (r.kind !== 'record') {
            bad.push(`${topic}/${q}@${qo}: ${r.kind === 'corrupt' ? r.reason : r.kind}`);
            continue;
          }
          const seq = seqAt.get(r.info.physicalOffset) ?? -1;
          const m = decodeMessageRecord(rec);
          if (r.info.topic !== topic || r.info.queueId !== q || r.info.queueOffset !== qo || seq < 0 || !m.body.equals(bodyOf(seq))) {
            bad.push(`${topic}/${q}@${qo}: holds ${r.info.topic}/${r.info.queueId}@${r.info.queueOffset} seq ${seq}`);
            continue;
          }
          if (seqOf(r.info.propertiesString) !== seq) headerOnly++;
          served++;
        }
        if (g.nextBeginOffset <= off) break;
        off = g.nextBeginOffset;
      }
    }
  }
  for (const seq of keys) {
    const topic = TOPICS[seq % TOPICS.length] as string;
    const res = await store.queryMessage(topic, `k${seq}`, 8, 0, Number.MAX_SAFE_INTEGER);
    for (const rec of res.messageBuffers) {
      const r = checkMessageRecord(rec, 0, rec.length, { checkCRC: true });
      if (r.kind !== 'record') bad.push(`query k${seq}: damaged record`);
      else if (seqOf(r.info.propertiesString) !== seq || !decodeMessageRecord(rec).body.equals(bodyOf(seq))) bad.push(`query k${seq}: wrong message`);
    }
  }
  return { bad, served, headerOnly };
}

const KINDS: Kind[] = ['commitlog', 'consumequeue', 'index', 'checkpoint', 'everything'];
/** CORRUPT_SEEDS=n runs n seeds per kind (a longer fuzz run); 4 in the suite. */
const PER_KIND = Number(process.env.CORRUPT_SEEDS ?? 4);
const cases = KINDS.flatMap((kind, k) =>
  Array.from({ length: PER_KIND }, (_, j) => j + 1).map((i) => ({ kind, seed: 1000 + k * 10 + i + (i > 9 ? 1000 * k : 0), crashed: i % 2 === 0 })),
);

describe('recovery from corrupted files', () => {
  let clean: string;
  let crashed: string;

  it.each(cases)(
    '$kind, seed $seed, crashed $crashed: recovers, serves nothing damaged, keeps working',
    async ({ kind, seed, crashed: afterCrash }) => {
      if (clean === undefined) clean = await buildStore(false);
      if (crashed === undefined) crashed = await buildStore(true);
      const dir = tmpDir('rmq-corrupt-case-');
      dirs.push(dir);
      fs.cpSync(afterCrash ? crashed : clean, dir, { recursive: true });
      const random = seededRandom(seed);
      const hits = corrupt(dir, kind, random, 1 + Math.floor(random() * 12));
      if (process.env.CORRUPT_DEBUG !== undefined) process.stdout.write(`seed ${seed}: ${hits.join(', ')}\n`);
      let store: DefaultMessageStore | undefined;
      try {
        store = await openStore(dir, config);
      } catch (e) {
        throw new Error(`seed ${seed}: recovery threw ${String(e)} after ${hits.join(', ')}`, { cause: e });
      }
      try {
        const keys = Array.from({ length: 60 }, (_, i) => Math.floor((i * MESSAGES) / 60));
        const { bad, served, headerOnly } = await servedDamage(store, TOPICS, QUEUES, keys);
        if (bad.length > 0) throw new Error(`seed ${seed}: served damage ${bad.slice(0, 5).join('; ')} after ${hits.join(', ')}`);
        expect(served).toBeGreaterThan(0);
        if (headerOnly > 0) process.stdout.write(`seed ${seed}: ${headerOnly} served record(s) with damaged properties (outside the body CRC)\n`);
        // still takes and serves new messages
        const r = await store.putMessage({ topic: 'CorA', queueId: 0, body: bodyOf(MESSAGES), properties: { KEYS: `k${MESSAGES}` } });
        expect(r.status).toBe('PUT_OK');
        const g = await store.getMessage('g', 'CorA', 0, r.appendResult?.logicsOffset ?? -1, 1);
        expect(g.status).toBe('FOUND');
      } finally {
        await store.shutdown();
      }
    },
    30_000,
  );
});

describe('reads of damaged data', () => {
  it('a unit pointing past the end of the log is skipped, not waited for (it used to spin forever)', async () => {
    const dir = tmpDir('rmq-corrupt-unit-');
    dirs.push(dir);
    const store = await openStore(dir, config);
    try {
      for (let seq = 0; seq < 3; seq++) await store.putMessage({ topic: 'CorA', queueId: 0, body: bodyOf(seq), properties: { KEYS: `k${seq}` } });
      // Damage the in-memory unit 1 the way a flipped bit in its file would after a reload.
      const q = store.consumeQueueTable.find('CorA', 0);
      if (q === undefined) throw new Error('no queue');
      q.putAt(1, store.getMaxPhyOffset() + 4096, 300, 0); // a repair of an existing unit writes in place
      const g = await store.getMessage('g', 'CorA', 0, 0, 8);
      expect(g.messageQueueOffsets).toEqual([0, 2]);
      expect(store.getStats().corruptRecordsSkipped).toBe(1);
    } finally {
      await store.shutdown();
    }
  });

  it('a record whose body no longer matches its CRC is skipped by pulls, lookups and key queries', async () => {
    const dir = tmpDir('rmq-corrupt-crc-');
    dirs.push(dir);
    let store = await openStore(dir, config);
    const phys: number[] = [];
    // enough for three segments: the damage goes in the first, which a clean restart does not scan
    for (let seq = 0; seq < 400; seq++) {
      const r = await store.putMessage({ topic: 'CorA', queueId: 0, body: bodyOf(seq), properties: { KEYS: `k${seq}` } });
      phys.push(r.appendResult?.wroteOffset ?? -1);
    }
    expect(store.getMaxPhyOffset()).toBeGreaterThan(2 * 64 * 1024);
    await store.shutdown();
    // flip a byte inside record 1's body
    const seg = path.join(dir, 'commitlog', '00000000000000000000');
    const rec1 = phys[1] as number;
    const buf = fs.readFileSync(seg);
    const bodyAt = buf.indexOf(bodyOf(1), rec1) + 5;
    expect(bodyAt).toBeGreaterThan(rec1);
    buf[bodyAt] = (buf[bodyAt] as number) ^ 0x40;
    fs.writeFileSync(seg, buf);
    store = await openStore(dir, config); // a clean stop: recovery scans only the newest segment
    try {
      const g = await store.getMessage('g', 'CorA', 0, 0, 3);
      expect(g.messageQueueOffsets).toEqual([0, 2, 3]);
      expect(await store.lookMessageByOffset(rec1)).toBeUndefined();
      expect((await store.queryMessage('CorA', 'k1', 8, 0, Number.MAX_SAFE_INTEGER)).messageBuffers).toEqual([]);
      expect((await store.queryMessage('CorA', 'k2', 8, 0, Number.MAX_SAFE_INTEGER)).messageBuffers.length).toBe(1);
      expect(store.getStats().corruptRecordsSkipped).toBe(2);
    } finally {
      await store.shutdown();
    }
  });
});
