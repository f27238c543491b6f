import { execFileSync } from 'node:child_process';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, AckPolicy, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';

/**
 * NATS JetStream on the machine's shared server (127.0.0.1:4222), with a file-backed stream of
 * our own that is deleted afterwards.
 */
export class NatsPeer {
  nc: NatsConnection | null = null;
  js: JetStreamClient | null = null;
  jsm: JetStreamManager | null = null;
  readonly stream = `RMQTS_BENCH_${process.pid}`;
  readonly subject = `rmqts.bench.${process.pid}`;

  constructor(readonly url = '127.0.0.1:4222') {}

  /** The shared nats-server's pid, for CPU and RSS figures (0 when not found). */
  get pid(): number {
    try {
      return Number(execFileSync('pgrep', ['-o', '-x', 'nats-server'], { encoding: 'utf8' }).trim()) || 0;
    } catch {
      return 0;
    }
  }

  async start(): Promise<void> {
    this.nc = await connect({ servers: this.url, timeout: 3000 });
    this.jsm = await jetstreamManager(this.nc);
    await this.jsm.streams.delete(this.stream).catch(() => undefined);
    await this.jsm.streams.add({ name: this.stream, subjects: [this.subject], storage: 'file' as never });
    this.js = jetstream(this.nc);
  }

  publish(payload: Buffer): Promise<unknown> {
    return this.js!.publish(this.subject, payload);
  }

  async publishBatch(payload: Buffer, n: number): Promise<unknown> {
    const acks = [];
    for (let i = 0; i < n; i++) acks.push(this.js!.publish(this.subject, payload));
    return Promise.all(acks);
  }

  /** Reads every message from the start with a pull consumer, `batch` per fetch. */
  private readers = 0;

  async readAll(batch: number, total: number, onBatch: (n: number) => void): Promise<void> {
    const name = `rmqts-bench-${process.pid}-${++this.readers}`;
    await this.jsm!.consumers.add(this.stream, { durable_name: name, ack_policy: AckPolicy.None });
    const consumer = await this.js!.consumers.get(this.stream, name);
    let got = 0;
    while (got < total) {
      const iter = await consumer.fetch({ max_messages: batch, expires: 2000 });
      let n = 0;
      for await (const _m of iter) n++;
      if (n === 0) break;
      got += n;
      onBatch(n);
    }
  }

  async stop(): Promise<void> {
    await this.jsm?.streams.delete(this.stream).catch(() => undefined);
    await this.nc?.close();
    this.nc = null;
  }
}
