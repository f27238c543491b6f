import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { makeTempDir, removeTempDirs } from '@rocketmq-ts/testing';
import { StoreLockError, acquireStoreLock, checkPortFree, isProcessAlive } from './startup-guard.js';

afterAll(() => removeTempDirs());

describe('acquireStoreLock', () => {
  it('creates the root and a lock file with our pid, and release removes it', () => {
    const root = join(makeTempDir('lock-spec'), 'store');
    const lock = acquireStoreLock(root, 4242);
    expect(readFileSync(join(root, 'lock'), 'utf8').trim()).toBe('4242');
    // Taking it again as the same pid is fine (idempotent).
    acquireStoreLock(root, 4242);
    lock.release();
    expect(existsSync(join(root, 'lock'))).toBe(false);
    lock.release();
  });

  it('refuses while another live node process holds it, naming the pid', () => {
    const root = makeTempDir('lock-spec');
    acquireStoreLock(root, process.pid); // this jest worker: alive, and a node process
    let err: unknown;
    try {
      acquireStoreLock(root, 99_999_999);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(StoreLockError);
    expect((err as StoreLockError).holderPid).toBe(process.pid);
    expect((err as Error).message).toContain(`pid ${process.pid}`);
  });

  it('takes over a lock whose pid is gone; release leaves a lock it no longer owns alone', () => {
    const root = makeTempDir('lock-spec');
    writeFileSync(join(root, 'lock'), '999999999\n');
    const lock = acquireStoreLock(root, 777);
    expect(readFileSync(join(root, 'lock'), 'utf8').trim()).toBe('777');
    writeFileSync(join(root, 'lock'), '888\n');
    lock.release();
    expect(readFileSync(join(root, 'lock'), 'utf8').trim()).toBe('888');
  });

  it('isProcessAlive', () => {
    expect(isProcessAlive(process.pid)).toBe(true);
    expect(isProcessAlive(999_999_999)).toBe(false);
    expect(isProcessAlive(NaN)).toBe(false);
    expect(isProcessAlive(0)).toBe(false);
  });
});

describe('checkPortFree', () => {
  it('resolves for a free port and rejects with EADDRINUSE for a bound one', async () => {
    const s = createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
    const port = (s.address() as { port: number }).port;
    await expect(checkPortFree(port, '127.0.0.1')).rejects.toMatchObject({ code: 'EADDRINUSE' });
    await new Promise((r) => s.close(r));
    await expect(checkPortFree(port, '127.0.0.1')).resolves.toBeUndefined();
  });
});
