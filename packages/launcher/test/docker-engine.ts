// A Docker engine for compose-up.test.ts: reuse a running one, or install (apt) and start dockerd,
// remembering that it is ours so that it is stopped again. Every command runs with a time limit.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  timeoutMs: number;
  input?: string;
  env?: Record<string, string>;
  cwd?: string;
}

/** Runs a command to its end (killed with its children after timeoutMs); never throws for a non-zero exit. */
export function run(cmd: string, args: readonly string[], o: RunOptions): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: o.cwd, env: { ...process.env, ...o.env }, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }, o.timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`${cmd}: ${e.message}`));
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      if (timedOut) {
        reject(new Error(`\`${[cmd, ...args].join(' ')}\` did not finish within ${o.timeoutMs / 1000} s; its last output: ${lastLines(stdout + stderr)}`));
      } else {
        resolve({ code, stdout, stderr });
      }
    });
    // A command may exit before it reads its input (docker inspect, docker logs): writing to the
    // closed pipe then fails with EPIPE, which says nothing the exit status does not.
    child.stdin.on('error', () => undefined);
    child.stdin.end(o.input ?? '');
  });
}

/** Runs a command that must succeed; the error carries the tail of its output. */
export async function runOk(cmd: string, args: readonly string[], o: RunOptions): Promise<string> {
  const r = await run(cmd, args, o);
  if (r.code !== 0) throw new Error(`\`${[cmd, ...args].join(' ')}\` exited with ${r.code}: ${lastLines(r.stderr || r.stdout)}`);
  return r.stdout;
}

/** The last few non-empty lines, joined into one line. */
export function lastLines(text: string, n = 3): string {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .slice(-n)
    .join(' | ');
}

export function onPath(cmd: string): boolean {
  return (process.env['PATH'] ?? '').split(delimiter).some((dir) => dir !== '' && existsSync(join(dir, cmd)));
}

export interface Engine {
  /** The compose command: `docker-compose`, or `docker compose`. */
  compose: string[];
  /** dockerd's pid when this process started it, else undefined (a running engine was reused). */
  startedPid: number | undefined;
  log: string;
}

const DOCKERD_LOG = join(tmpdir(), 'rocketmq-ts-dockerd.log');

async function engineAnswers(): Promise<boolean> {
  if (!onPath('docker')) return false;
  const r = await run('docker', ['info', '--format', '{{.ServerVersion}}'], { timeoutMs: 20_000 }).catch(() => undefined);
  return r?.code === 0;
}

async function composeCommand(): Promise<string[] | undefined> {
  if (onPath('docker-compose') && (await run('docker-compose', ['version'], { timeoutMs: 20_000 })).code === 0) return ['docker-compose'];
  if (onPath('docker') && (await run('docker', ['compose', 'version'], { timeoutMs: 20_000 })).code === 0) return ['docker', 'compose'];
  return undefined;
}

/** Debian's docker.io and docker-compose (root and apt-get needed). */
async function aptInstall(packages: string[], note: (line: string) => void): Promise<void> {
  if (process.getuid?.() !== 0 || !onPath('apt-get')) {
    throw new Error(`no Docker engine: ${packages.join(' and ')} missing, and installing them needs root and apt-get`);
  }
  note(`installing ${packages.join(' ')} with apt-get`);
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  const first = await run('apt-get', ['install', '-y', '--no-install-recommends', ...packages], { timeoutMs: 300_000, env });
  if (first.code === 0) return;
  await runOk('apt-get', ['update'], { timeoutMs: 180_000, env });
  await runOk('apt-get', ['install', '-y', '--no-install-recommends', ...packages], { timeoutMs: 300_000, env });
}

/**
 * A Docker engine that answers, and a compose command. Reuses a running engine; otherwise starts
 * dockerd (installing docker.io and docker-compose with apt when missing) and says so. dockerd picks
 * its storage driver (overlay2 where the kernel allows, else vfs; ROCKETMQ_TS_DOCKER_STORAGE_DRIVER
 * forces one): vfs copies an image's files for every layer and container, minutes for this cluster.
 */
export async function ensureEngine(note: (line: string) => void): Promise<Engine> {
  const missing: string[] = [];
  if (!onPath('dockerd') && !(await engineAnswers())) missing.push('docker.io');
  if ((await composeCommand()) === undefined) missing.push('docker-compose');
  if (missing.length > 0) await aptInstall(missing, note);
  const compose = await composeCommand();
  if (compose === undefined) throw new Error('no Docker engine: neither docker-compose nor `docker compose` works after installing');
  if (await engineAnswers()) return { compose, startedPid: undefined, log: DOCKERD_LOG };

  const driver = process.env['ROCKETMQ_TS_DOCKER_STORAGE_DRIVER'];
  const args = driver ? [`--storage-driver=${driver}`] : [];
  const fd = openSync(DOCKERD_LOG, 'w');
  const child = spawn('dockerd', args, { detached: true, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const pid = child.pid;
  if (pid === undefined) throw new Error('no Docker engine: dockerd could not be started');
  child.unref();
  let exited = false;
  child.once('exit', () => (exited = true));
  note(`started dockerd${args.map((a) => ` ${a}`).join('')} (pid ${pid}, log ${DOCKERD_LOG})`);
  const deadline = Date.now() + 60_000;
  while (!(await engineAnswers())) {
    if (exited || Date.now() > deadline) {
      if (!exited) await stopEngine({ compose, startedPid: pid, log: DOCKERD_LOG });
      const log = existsSync(DOCKERD_LOG) ? lastLines(readFileSync(DOCKERD_LOG, 'utf8'), 1) : '';
      throw new Error(`no Docker engine: dockerd ${exited ? 'exited' : 'did not answer within 60 s'} (${DOCKERD_LOG}: ${log})`);
    }
    await sleep(1_000);
  }
  return { compose, startedPid: pid, log: DOCKERD_LOG };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Stops dockerd if this process started it: SIGTERM, then SIGKILL after 30 s. */
export async function stopEngine(engine: Engine | undefined): Promise<void> {
  const pid = engine?.startedPid;
  if (pid === undefined || !alive(pid)) return;
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 60 && alive(pid); i++) await sleep(500);
  if (alive(pid)) process.kill(pid, 'SIGKILL');
}
