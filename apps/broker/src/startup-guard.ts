import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readlinkSync, symlinkSync, unlinkSync, writeSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

/**
 * Guards a broker's start-up against a second broker on the same store or the same ports, before
 * anything is loaded. RocketMQ holds an OS file lock on `<storePathRootDir>/lock`; Node has no
 * flock, so the lock file is created exclusively and holds the owner's pid. A lock whose pid is
 * gone (a crashed broker) is taken over. On a full disk, where the pid cannot be written, the lock
 * is a symbolic link whose target is the pid (it needs no data block): the broker must still start
 * there, to serve reads and to free space by its retention rules.
 */
export class StoreLockError extends Error {
  constructor(
    message: string,
    readonly holderPid: number,
  ) {
    super(message);
    this.name = 'StoreLockError';
  }
}

export interface StoreLock {
  readonly path: string;
  /** Removes the lock file if it is still ours (idempotent, synchronous: safe in an exit handler). */
  release(): void;
}

export function isProcessAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  // On Linux, a live pid that is not a node process is a reused pid, not a broker.
  const cmdline = `/proc/${pid}/cmdline`;
  if (existsSync('/proc/self/cmdline')) {
    try {
      return readFileSync(cmdline, 'utf8').includes('node');
    } catch {
      return false;
    }
  }
  return true;
}

function readPid(path: string): number {
  try {
    return Number.parseInt(readlinkSync(path), 10);
  } catch {
    // not a symbolic link: a regular lock file holding the pid
  }
  try {
    return Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
  } catch {
    return NaN;
  }
}

function errnoOf(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code;
}

/** Takes `<root>/lock` for this process or throws StoreLockError naming the live holder. */
export function acquireStoreLock(root: string, pid = process.pid): StoreLock {
  mkdirSync(root, { recursive: true });
  const path = join(root, 'lock');
  for (let attempt = 0; attempt < 3; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, 'wx');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const holder = readPid(path);
      if (holder === pid) return lockHandle(path, pid);
      if (isProcessAlive(holder)) {
        throw new StoreLockError(
          `the store ${root} is in use by another broker (pid ${holder}, lock file ${path}); stop it or use another storePathRootDir`,
          holder,
        );
      }
      // Stale: the previous owner died without cleaning up.
      try {
        unlinkSync(path);
      } catch {
        // someone else removed it first; retry the exclusive create
      }
      continue;
    }
    try {
      writeSync(fd, `${pid}\n`);
    } catch (e) {
      closeSync(fd);
      unlinkSync(path);
      if (errnoOf(e) !== 'ENOSPC' && errnoOf(e) !== 'EDQUOT') throw e;
      try {
        symlinkSync(String(pid), path);
      } catch (e2) {
        if (errnoOf(e2) === 'EEXIST') continue;
        throw e2;
      }
      return lockHandle(path, pid);
    }
    closeSync(fd);
    return lockHandle(path, pid);
  }
  throw new StoreLockError(`could not take the lock file ${path}`, readPid(path));
}

function lockHandle(path: string, pid: number): StoreLock {
  let released = false;
  return {
    path,
    release() {
      if (released) return;
      released = true;
      if (readPid(path) !== pid) return;
      try {
        unlinkSync(path);
      } catch {
        // already gone
      }
    },
  };
}

/** Resolves when host:port can be bound right now (bind and close at once); rejects with the bind error. */
export function checkPortFree(port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.once('error', reject);
    s.listen({ port, host, exclusive: true }, () => s.close(() => resolve()));
  });
}
