import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { canConnect } from './ports.js';

export interface StartNodeOptions {
  /** Shown in errors and, with ROCKETMQ_TS_TEST_ECHO=1, as the prefix of echoed output. */
  name?: string;
  /** Added to the parent's environment (NODE_OPTIONS is dropped unless given here: jest's flags are not the child's). */
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** Arguments for node itself, before the script. */
  nodeArgs?: string[];
  /** Ready when the output (stdout + stderr) matches. */
  readyPattern?: RegExp;
  /** Ready when 127.0.0.1:readyPort accepts TCP connections. */
  readyPort?: number;
  /** Limit for getting ready, in milliseconds (default 15 000). */
  timeoutMs?: number;
}

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface NodeProcess {
  readonly name: string;
  readonly pid: number;
  /** Everything the process wrote to stdout and stderr so far, interleaved as it arrived. */
  output(): string;
  /** Resolves with the first match of `re` in the output, now or later; rejects on timeout or exit. */
  waitForOutput(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Sends `signal`, waits up to graceMs, then SIGKILLs; resolves with the exit code (null when killed by a signal). */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<number | null>;
  /** SIGKILL, no grace. */
  kill(): Promise<ExitStatus>;
  readonly exited: Promise<ExitStatus>;
  readonly hasExited: boolean;
}

const running = new Set<NodeProcess>();

/**
 * Starts `node <script> ...args` (script may be `-e` with the code as the first arg) and resolves
 * once it is ready: its output matched `readyPattern` and/or `readyPort` accepts connections, or at
 * once when neither is given. If it exits or times out first, it is killed and the promise rejects
 * with the tail of its output.
 */
export async function startNode(script: string, args: readonly string[] = [], opts: StartNodeOptions = {}): Promise<NodeProcess> {
  const name = opts.name ?? script;
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const env: Record<string, string | undefined> = { ...process.env };
  delete env['NODE_OPTIONS'];
  Object.assign(env, opts.env ?? {});

  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), script, ...args], {
    cwd: opts.cwd,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) {
    const err = await new Promise<Error>((resolve) => child.once('error', resolve));
    throw new Error(`${name}: could not start: ${err.message}`);
  }
  const pid = child.pid;
  const echo = process.env['ROCKETMQ_TS_TEST_ECHO'] === '1';

  let out = '';
  const listeners = new Set<() => void>();
  const onData = (chunk: Buffer): void => {
    const s = chunk.toString('utf8');
    out += s;
    if (echo) process.stderr.write(s.replace(/^(?=.)/gm, `[${name}] `));
    for (const l of [...listeners]) l();
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);

  let hasExited = false;
  const exited = new Promise<ExitStatus>((resolve) => {
    // 'close' waits for stdio to drain, so output() is complete once exited resolves.
    child.once('close', (code, signal) => {
      hasExited = true;
      running.delete(handle);
      for (const l of [...listeners]) l();
      resolve({ code, signal });
    });
  });

  const waitForOutput = (re: RegExp, ms = 10_000): Promise<RegExpMatchArray> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const m = out.match(re);
        if (m) return finish(() => resolve(m));
        if (hasExited) finish(() => reject(new Error(`${name} exited before its output matched ${re}\n${tail(out)}`)));
      };
      const timer = setTimeout(() => finish(() => reject(new Error(`${name}: output did not match ${re} within ${ms} ms\n${tail(out)}`))), ms);
      const finish = (f: () => void): void => {
        clearTimeout(timer);
        listeners.delete(check);
        f();
      };
      listeners.add(check);
      check();
    });

  const signalProcess = (signal: NodeJS.Signals): void => {
    if (hasExited) return;
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  };

  const stop = async (signal: NodeJS.Signals = 'SIGTERM', graceMs = 5_000): Promise<number | null> => {
    signalProcess(signal);
    let timer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<'grace-over'>((r) => (timer = setTimeout(() => r('grace-over'), graceMs)));
    const first = await Promise.race([exited, graceOver]);
    clearTimeout(timer);
    if (first === 'grace-over') signalProcess('SIGKILL');
    return (await exited).code;
  };

  const handle: NodeProcess = {
    name,
    pid,
    output: () => out,
    waitForOutput,
    stop,
    kill: () => {
      signalProcess('SIGKILL');
      return exited;
    },
    exited,
    get hasExited() {
      return hasExited;
    },
  };
  running.add(handle);

  try {
    const deadline = Date.now() + timeoutMs;
    if (opts.readyPattern) await waitForOutput(opts.readyPattern, timeoutMs);
    if (opts.readyPort !== undefined) {
      while (!(await canConnect(opts.readyPort))) {
        if (hasExited) throw new Error(`${name} exited before port ${opts.readyPort} accepted connections\n${tail(out)}`);
        if (Date.now() > deadline) throw new Error(`${name}: port ${opts.readyPort} did not accept connections within ${timeoutMs} ms\n${tail(out)}`);
        await sleep(50);
      }
    }
  } catch (e) {
    await handle.kill();
    throw e;
  }
  return handle;
}

/** Stops every process started by `startNode` that is still running (call from afterAll). */
export async function stopAllProcesses(graceMs = 5_000): Promise<void> {
  await Promise.all([...running].map((p) => p.stop('SIGTERM', graceMs)));
}

/** The processes started by `startNode` that are still running. */
export function runningProcesses(): readonly NodeProcess[] {
  return [...running];
}

/** True while a process with this pid exists (signal 0 probes without sending anything). */
export function isPidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function tail(s: string, lines = 30): string {
  return s.split('\n').slice(-lines).join('\n');
}
