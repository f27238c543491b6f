// Child process for the SIGKILL crash test: appends under SYNC_FLUSH and prints every acknowledged message
// as `ack <queueId> <queueOffset> <commitLogOffset> <seq>` on stdout. Usage: crash-writer <storeDir> <segmentSize> <seed>
import { DefaultMessageStore } from '../default-message-store.js';
import { silentLogger } from '../probe.js';

export function crashBody(seq: number): Buffer {
  const len = 100 + ((seq * 7919) % 1900);
  const b = Buffer.alloc(len);
  for (let i = 0; i < len; i++) b[i] = (seq + i * 31) & 0xff;
  b.write(`seq=${seq};`, 0);
  return b;
}

async function main(): Promise<void> {
  const [dir, segSize, seedArg] = process.argv.slice(2);
  if (dir === undefined || segSize === undefined) throw new Error('usage: crash-writer <dir> <segmentSize> [seed]');
  let seq = Number(seedArg ?? '0') * 1_000_000;
  const store = new DefaultMessageStore({
    logger: silentLogger,
    config: { storePathRootDir: dir, mappedFileSizeCommitLog: Number(segSize), mappedFileSizeConsumeQueue: 20 * 500, maxHashSlotNum: 1000, maxIndexNum: 4000, flushDiskType: 'SYNC_FLUSH', preallocateMode: 'truncate', flushIntervalConsumeQueue: 50, commitLogWriteChunkSize: 64 * 1024 },
  });
  await store.load();
  await store.start();
  process.stdout.write('ready\n');
  const inflight = new Set<Promise<void>>();
  for (;;) {
    while (inflight.size < 16) {
      const s = seq++;
      const queueId = s % 3;
      const p = store
        .putMessage({ topic: 'CrashTopic', queueId, body: crashBody(s), properties: { KEYS: `k${s}`, TAGS: `t${s % 5}` } })
        .then((r) => {
          if (r.status === 'PUT_OK' && r.appendResult !== undefined) process.stdout.write(`ack ${queueId} ${r.appendResult.logicsOffset} ${r.appendResult.wroteOffset} ${s}\n`);
        })
        .finally(() => inflight.delete(p));
      inflight.add(p);
    }
    await Promise.race(inflight);
  }
}

if (process.argv[1]?.endsWith('crash-writer.js') === true) {
  main().catch((e: unknown) => {
    process.stderr.write(`${String(e)}\n`);
    process.exit(1);
  });
}
