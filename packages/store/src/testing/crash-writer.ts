// Child process for the SIGKILL crash test: appends and prints every acknowledged message as
// `ack <queueId> <queueOffset> <commitLogOffset> <seq>` on stdout.
// Usage: crash-writer <storeDir> <segmentSize> <seed> [SYNC_FLUSH|ASYNC_FLUSH] [selfKillAfterBursts]
// With selfKillAfterBursts (ASYNC_FLUSH), the writer SIGKILLs itself right after printing the acks of
// that burst: the worst moment for a crash, with nothing between the acknowledgement and the kill.
// SYNC_FLUSH acknowledges when putMessage resolves (after the group commit). ASYNC_FLUSH works as
// the broker does: a burst of putMessageNow calls, then writeAppended(), then the acks.
import { DefaultMessageStore } from '../default-message-store.js';
import type { PutMessageRequest } from '../message-store.js';
import { silentLogger } from '../probe.js';
import type { PutMessageResult } from '../status.js';

export function crashBody(seq: number): Buffer {
  const len = 100 + ((seq * 7919) % 1900);
  const b = Buffer.alloc(len);
  for (let i = 0; i < len; i++) b[i] = (seq + i * 31) & 0xff;
  b.write(`seq=${seq};`, 0);
  return b;
}

async function main(): Promise<void> {
  const [dir, segSize, seedArg, modeArg, selfKillArg] = process.argv.slice(2);
  const flushDiskType = modeArg === 'ASYNC_FLUSH' ? 'ASYNC_FLUSH' : 'SYNC_FLUSH';
  if (dir === undefined || segSize === undefined) throw new Error('usage: crash-writer <dir> <segmentSize> [seed]');
  let seq = Number(seedArg ?? '0') * 1_000_000;
  const store = new DefaultMessageStore({
    logger: silentLogger,
    config: {
      storePathRootDir: dir,
      mappedFileSizeCommitLog: Number(segSize),
      mappedFileSizeConsumeQueue: 20 * 500,
      maxHashSlotNum: 1000,
      maxIndexNum: 4000,
      flushDiskType,
      preallocateMode: 'truncate',
      flushIntervalConsumeQueue: 50,
      commitLogWriteChunkSize: 64 * 1024,
    },
  });
  await store.load();
  await store.start();
  process.stdout.write('ready\n');
  if (flushDiskType === 'ASYNC_FLUSH') return asyncLoop(store, seq, Number(selfKillArg ?? '0'));
  const inflight = new Set<Promise<void>>();
  for (;;) {
    while (inflight.size < 16) {
      const s = seq++;
      const queueId = s % 3;
      const p = store
        .putMessage({ topic: 'CrashTopic', queueId, body: crashBody(s), properties: { KEYS: `k${s}`, TAGS: `t${s % 5}` } })
        .then((r) => {
          if (r.status === 'PUT_OK' && r.appendResult !== undefined) {
            process.stdout.write(`ack ${queueId} ${r.appendResult.logicsOffset} ${r.appendResult.wroteOffset} ${s}\n`);
          }
        })
        .finally(() => inflight.delete(p));
      inflight.add(p);
    }
    await Promise.race(inflight);
  }
}

function message(s: number): PutMessageRequest {
  return { topic: 'CrashTopic', queueId: s % 3, body: crashBody(s), properties: { KEYS: `k${s}`, TAGS: `t${s % 5}` } };
}

async function asyncLoop(store: DefaultMessageStore, seq: number, selfKillAfter: number): Promise<void> {
  for (let bursts = 1; ; bursts++) {
    const burst = 1 + (seq % 24);
    const done: Array<[number, PutMessageResult]> = [];
    for (let i = 0; i < burst; i++) {
      const s = seq++;
      const r = store.putMessageNow(message(s));
      done.push([s, r instanceof Promise ? await r : r]);
    }
    if (!store.writeAppended()) throw new Error('writeAppended failed');
    let out = '';
    for (const [s, r] of done) {
      if (r.status === 'PUT_OK' && r.appendResult !== undefined) out += `ack ${s % 3} ${r.appendResult.logicsOffset} ${r.appendResult.wroteOffset} ${s}\n`;
    }
    process.stdout.write(out);
    if (bursts === selfKillAfter) process.kill(process.pid, 'SIGKILL');
    // About a thousand bursts a second: enough to roll segments, few enough to verify every ack.
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

if (process.argv[1]?.endsWith('crash-writer.js') === true) {
  main().catch((e: unknown) => {
    process.stderr.write(`${String(e)}\n`);
    process.exit(1);
  });
}
