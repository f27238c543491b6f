import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort, waitForPort } from '@rocketmq-ts/testing';

export type RedisDurability = 'off' | 'everysec' | 'always';

/**
 * A private redis-server for one durability setting, so the shared instance on 6379 keeps its
 * configuration. Data lives in a temp dir removed on stop.
 */
export class RedisPeer {
  private proc: ChildProcess | null = null;
  private dir = '';
  port = 0;
  client: Redis | null = null;
  readonly stream = `rmqts:bench:${process.pid}`;

  constructor(readonly durability: RedisDurability) {}

  get pid(): number {
    return this.proc?.pid ?? 0;
  }

  async start(): Promise<void> {
    this.port = await freePort();
    this.dir = mkdtempSync(join(tmpdir(), 'rmqts-bench-redis-'));
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--dir', this.dir, '--daemonize', 'no', '--loglevel', 'warning'];
    if (this.durability === 'off') args.push('--appendonly', 'no');
    else args.push('--appendonly', 'yes', '--appendfsync', this.durability);
    this.proc = spawn('redis-server', args, { stdio: ['ignore', 'ignore', 'inherit'] });
    await waitForPort(this.port, 10_000);
    this.client = new Redis({ host: '127.0.0.1', port: this.port, enableAutoPipelining: true, lazyConnect: false, maxRetriesPerRequest: 1 });
    await this.client.ping();
  }

  async stop(): Promise<void> {
    this.client?.disconnect();
    this.client = null;
    const r = this.replica;
    if (r && r.exitCode === null) {
      const exited = new Promise((res) => r.once('exit', res));
      r.kill('SIGTERM');
      await exited;
    }
    this.replica = null;
    if (this.replicaDir) rmSync(this.replicaDir, { recursive: true, force: true });
    const p = this.proc;
    if (p && p.exitCode === null) {
      const exited = new Promise((r) => p.once('exit', r));
      p.kill('SIGTERM');
      const t = setTimeout(() => p.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    }
    this.proc = null;
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }

  /**
   * XADD acknowledged once a replica has it: the XADDs of one turn of the event loop go out in one
   * pipeline followed by one WAIT 1 (as a group commit), and all of them resolve after that WAIT.
   */
  xaddReplicated(payload: Buffer): Promise<unknown> {
    const add = this.client!.xaddBuffer(this.stream, '*', 'b', payload);
    if (this.pendingWait === null) {
      this.pendingWait = new Promise((resolve, reject) => {
        setImmediate(() => {
          this.pendingWait = null;
          this.client!.wait(1, 5000).then((n) => (n >= 1 ? resolve() : reject(new Error('WAIT: no replica acknowledged'))), reject);
        });
      });
    }
    return Promise.all([add, this.pendingWait]);
  }

  private pendingWait: Promise<void> | null = null;

  /** Starts a replica of this instance on its own port (for WAIT). */
  async startReplica(): Promise<void> {
    const port = await freePort();
    this.replicaDir = mkdtempSync(join(tmpdir(), 'rmqts-bench-redis-replica-'));
    this.replica = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        this.replicaDir,
        '--replicaof',
        '127.0.0.1',
        String(this.port),
        '--loglevel',
        'warning',
      ],
      {
        stdio: ['ignore', 'ignore', 'inherit'],
      },
    );
    await waitForPort(port, 10_000);
    for (let i = 0; i < 100; i++) {
      const info = await this.client!.info('replication');
      if (/connected_slaves:1/.test(info) && /state=online/.test(info)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('the redis replica did not come online');
  }

  private replica: ChildProcess | null = null;
  private replicaDir = '';

  xadd(payload: Buffer): Promise<unknown> {
    return this.client!.xaddBuffer(this.stream, '*', 'b', payload);
  }

  /** A batch as one pipeline of XADDs, acknowledged together. */
  async xaddBatch(payload: Buffer, n: number): Promise<unknown> {
    const p = this.client!.pipeline();
    for (let i = 0; i < n; i++) p.xaddBuffer(this.stream, '*', 'b', payload);
    return p.exec();
  }

  /** Reads the whole stream from the start, `count` entries per XREAD. Returns entries read. */
  async readAll(count: number, onBatch: (n: number) => void): Promise<void> {
    let last = '0-0';
    for (;;) {
      const res = (await this.client!.xreadBuffer('COUNT', count, 'STREAMS', this.stream, last)) as [Buffer, [Buffer, Buffer[]][]][] | null;
      const entries = res?.[0]?.[1];
      if (!entries || entries.length === 0) return;
      last = entries[entries.length - 1]![0].toString();
      onBatch(entries.length);
    }
  }
}
