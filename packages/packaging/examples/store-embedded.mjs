// The storage engine embedded in a script: put, read back, close, reopen (recovery), read again.
//   node store-embedded.mjs <dir> [count]
// Prints `RESULT {...}` and exits 0 when every message was read back both times.
import { decodeMessageRecord } from '@rocketmq-ts/protocol';
import { DefaultMessageStore } from '@rocketmq-ts/store';

const [dir = './store', countArg = '100'] = process.argv.slice(2);
const count = Number(countArg);
const config = { storePathRootDir: dir, flushDiskType: 'SYNC_FLUSH', mappedFileSizeCommitLog: 1024 * 1024, preallocateMode: 'truncate' };

async function readAll(store) {
  const bodies = [];
  for (let offset = 0; offset < count;) {
    const r = await store.getMessage('embedded', 'Events', 0, offset, 32, 1024 * 1024);
    if (r.messageBuffers.length === 0) break;
    for (const b of r.messageBuffers) bodies.push(decodeMessageRecord(b).body.toString());
    offset = r.nextBeginOffset;
  }
  return bodies;
}

let store = new DefaultMessageStore({ config });
await store.load();
await store.start();
for (let i = 0; i < count; i++) {
  const r = await store.putMessage({ topic: 'Events', queueId: 0, body: Buffer.from(`event ${i}`), properties: { KEYS: `k${i}` } });
  if (r.status !== 'PUT_OK') throw new Error(`put ${i}: ${r.status}`);
}
const first = await readAll(store);
await store.shutdown();

store = new DefaultMessageStore({ config });
const report = await store.load(); // recovery: checks every record since the checkpoint
await store.start();
const second = await readAll(store);
const byKey = await store.queryMessage('Events', `k${count - 1}`, 1, 0, Date.now() + 1000);
await store.shutdown();

const ok = first.length === count && second.length === count && second[count - 1] === `event ${count - 1}`;
console.log(`RESULT ${JSON.stringify({ first: first.length, second: second.length, recovery: report.mode ?? 'ok', byKey: byKey.messageBuffers.length, ok })}`);
process.exit(ok ? 0 : 1);
