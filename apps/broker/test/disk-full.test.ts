// A broker on a 100 % full disk: it starts, serves reads, refuses writes with DISK_FULL, frees space by
// its retention rules (forced cleaning past diskSpaceCleanForciblyRatio) and then takes writes again.
// The disk is a small tmpfs mounted for the test (needs root, as CI runs).
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, statfsSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { RequestCode, ResponseCode } from '@rocketmq-ts/protocol';
import { makeTempDir, removeTempDirs, startNode, stopAllProcesses, waitFor } from '@rocketmq-ts/testing';
import { BROKER_MAIN, JavaClient, PULL, records, startBroker } from './harness.js';

const isRoot = process.getuid?.() === 0;
const mounts: string[] = [];

afterAll(async () => {
  await stopAllProcesses();
  for (const m of mounts) {
    try {
      execFileSync('umount', ['-l', m]);
    } catch {
      // already gone
    }
  }
  removeTempDirs();
});

/** Writes a filler file until the filesystem refuses more (ENOSPC). */
function fillDisk(dir: string): void {
  const fd = openSync(join(dir, 'filler'), 'w');
  try {
    for (const size of [1024 * 1024, 64 * 1024, 4096, 512]) {
      const chunk = Buffer.alloc(size, 1);
      for (;;) {
        try {
          writeSync(fd, chunk);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'ENOSPC') break;
          throw e;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
}

if (!isRoot) console.warn('disk-full.test: skipped, mounting a tmpfs needs root');

(isRoot ? describe : describe.skip)('a 100 % full disk', () => {
  it('the broker starts, serves reads, answers sends with DISK_FULL, cleans up and resumes', async () => {
    const dir = makeTempDir('broker-diskfull');
    const mnt = join(dir, 'mnt');
    mkdirSync(mnt);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64m', 'tmpfs', mnt]);
    mounts.push(mnt);
    const store = join(mnt, 'store');
    const b = await startBroker(
      {
        storePathRootDir: store,
        storePathCommitLog: join(store, 'commitlog'),
        mappedFileSizeCommitLog: 2 * 1024 * 1024,
        preallocateMode: 'zeros',
        mappedFileSizeConsumeQueue: 20 * 4000,
        maxHashSlotNum: 1000,
        maxIndexNum: 4000,
        maxMessageSize: 64 * 1024,
        cleanResourceInterval: 3000,
        autoCreateTopicEnable: true,
      },
      { dir },
    );
    const c = new JavaClient(b.addr);
    // 24 MiB of messages: a dozen segments retention can remove later.
    const body = Buffer.alloc(4096, 7);
    let sent = 0;
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (sent < 6000) {
          sent++;
          expect((await c.send('FULL_T', body, { queueId: 0 })).code).toBe(ResponseCode.SUCCESS);
        }
      }),
    );
    c.close();
    expect(await b.stop()).toBe(0);

    fillDisk(mnt);
    const st = statfsSync(mnt);
    expect(st.bavail * st.bsize).toBeLessThan(64 * 1024);

    b.proc = await startNode(BROKER_MAIN, ['-c', b.confPath], { name: 'broker-full', readyPattern: /broker \S+ started at/, timeoutMs: 20_000 });
    const v = new JavaClient(b.addr);
    try {
      // Reads are served: the newest message and the oldest.
      const last = await v.pull({ group: 'FULL_G', topic: 'FULL_T', queueId: 0, offset: 5999, maxMsgNums: 1, sysFlag: PULL.SUBSCRIPTION, subscription: '*' });
      expect(last.code).toBe(ResponseCode.SUCCESS);
      expect(records(last)[0]!.body.equals(body)).toBe(true);
      const first = await v.pull({ group: 'FULL_G', topic: 'FULL_T', queueId: 0, offset: 0, maxMsgNums: 1, sysFlag: PULL.SUBSCRIPTION, subscription: '*' });
      expect(first.code).toBe(ResponseCode.SUCCESS);
      // Writes are refused with a named code.
      const refused = await v.send('FULL_T', 'x', { queueId: 0 });
      expect(refused.code).toBe(ResponseCode.DISK_FULL);
      // Retention frees space (forced: the disk is past diskSpaceCleanForciblyRatio), then writes resume.
      await b.proc.waitForOutput(/deleted commit-log segments/, 15_000);
      await waitFor(async () => (await v.send('FULL_T', 'after cleanup', { queueId: 0 })).code === ResponseCode.SUCCESS, { timeoutMs: 15_000 });
      const info = await v.call(RequestCode.GET_BROKER_RUNTIME_INFO, null);
      expect(Number(/"commitLogMinOffset":"(\d+)"/.exec(info.body!.toString())?.[1])).toBeGreaterThan(0);
    } finally {
      v.close();
    }
    expect(await b.stop()).toBe(0);
  }, 90_000);
});
