// Master side of classic HA (remoting.md §6, pop-timer-tx-ha.md §D): slaves connect to haListenPort and
// report their commit-log end as 8-byte offsets; the master streams its commit log from there in frames
// [int64 offset][int32 size][size bytes]. SYNC_MASTER puts wait here until enough slaves reported an
// offset at or past the end of their records.
import net from 'node:net';
import type { CommitLog } from '../commitlog/commit-log.js';
import type { MessageStoreConfig } from '../config.js';
import type { HASlaveStatus } from '../message-store.js';
import type { StoreLogger } from '../probe.js';
import { PutMessageStatus } from '../status.js';

export const HA_HEADER_SIZE = 12;

interface SlaveWaiter {
  end: number;
  deadline: number;
  resolve: (status: PutMessageStatus) => void;
}

export interface HAServiceParts {
  config: MessageStoreConfig;
  commitLog: CommitLog;
  logger: StoreLogger;
  /** Hands appended records to the OS before they are sent (a slave never gets ahead of the master's files). */
  writeAppended: () => boolean;
}

export class HAService {
  private server: net.Server | undefined;
  private readonly conns = new Set<HAConnection>();
  private waiters: SlaveWaiter[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly needSlaves: number;
  private wakeScheduled = false;
  private closed = false;
  /** @internal ASYNC_MASTER: sends of less than a frame wait for the slave's acknowledgement (see sendLoop). */
  readonly selfClocked: boolean;

  constructor(readonly parts: HAServiceParts) {
    const isr = parts.config.inSyncReplicas;
    // 0: one slave (RocketMQ 4.x); n: n replicas counting the master (RocketMQ 5).
    this.needSlaves = isr === 0 ? 1 : isr - 1;
    this.selfClocked = parts.config.brokerRole !== 'SYNC_MASTER';
    parts.commitLog.onAppend = this.onAppend;
  }

  /** Listens for slaves on `port` (0 = any free port; see `port`). */
  start(port: number, host: string): Promise<void> {
    const server = net.createServer({ noDelay: true }, (s) => this.accept(s));
    this.server = server;
    const c = this.parts.config;
    this.timer = setInterval(() => this.housekeeping(), Math.max(10, Math.min(100, Math.floor(c.slaveTimeout / 10))));
    this.timer.unref();
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.removeListener('error', reject);
        server.on('error', (e) => this.parts.logger.error('HA listener error', { error: String(e) }));
        this.parts.logger.info('HA service listening', { host, port: this.port });
        resolve();
      });
    });
  }

  get port(): number {
    const a = this.server?.address();
    return a !== null && typeof a === 'object' ? a.port : 0;
  }

  /** Connected slaves, best first. */
  slaves(): HASlaveStatus[] {
    const max = this.parts.commitLog.wrotePos;
    return [...this.conns]
      .map((c) => ({ addr: c.addr, ackOffset: c.ackOffset, behindBytes: c.ackOffset < 0 ? max : Math.max(0, max - c.ackOffset) }))
      .sort((a, b) => b.ackOffset - a.ackOffset);
  }

  /** The offset the best slave has reported (-1 with no slave). */
  get slaveAckOffset(): number {
    let best = -1;
    for (const c of this.conns) if (c.ackOffset > best) best = c.ackOffset;
    return best;
  }

  /**
   * SYNC_MASTER: resolves when enough slaves hold everything below `end`: PUT_OK; with no slave, or
   * every slave further behind than haSlaveFallbehindMax, SLAVE_NOT_AVAILABLE at once; after
   * slaveTimeout, FLUSH_SLAVE_TIMEOUT.
   */
  waitForSlaves(end: number): PutMessageStatus | Promise<PutMessageStatus> {
    if (this.needSlaves <= 0) return PutMessageStatus.PUT_OK;
    if (this.countAcked(end) >= this.needSlaves) return PutMessageStatus.PUT_OK;
    const max = this.parts.commitLog.wrotePos;
    let usable = 0;
    for (const c of this.conns) if (c.ackOffset >= 0 && max - c.ackOffset <= this.parts.config.haSlaveFallbehindMax) usable++;
    if (usable < this.needSlaves) return PutMessageStatus.SLAVE_NOT_AVAILABLE;
    return new Promise((resolve) => {
      this.waiters.push({ end, deadline: Date.now() + this.parts.config.slaveTimeout, resolve });
    });
  }

  private countAcked(end: number): number {
    let n = 0;
    for (const c of this.conns) if (c.ackOffset >= end) n++;
    return n;
  }

  /** @internal a slave reported an offset. */
  acked(): void {
    if (this.waiters.length === 0) return;
    let i = 0;
    while (i < this.waiters.length && this.countAcked((this.waiters[i] as SlaveWaiter).end) >= this.needSlaves) {
      (this.waiters[i++] as SlaveWaiter).resolve(PutMessageStatus.PUT_OK);
    }
    if (i > 0) this.waiters.splice(0, i);
  }

  private housekeeping(): void {
    const now = Date.now();
    if (this.waiters.length > 0) {
      let i = 0;
      while (i < this.waiters.length && (this.waiters[i] as SlaveWaiter).deadline <= now) {
        (this.waiters[i++] as SlaveWaiter).resolve(PutMessageStatus.FLUSH_SLAVE_TIMEOUT);
      }
      if (i > 0) this.waiters.splice(0, i);
    }
    for (const c of this.conns) c.housekeeping(now);
  }

  /** New records: wake the senders once per turn of the event loop. */
  private readonly onAppend = (): void => {
    if (this.wakeScheduled || this.conns.size === 0) return;
    this.wakeScheduled = true;
    setImmediate(this.wake);
  };

  private readonly wake = (): void => {
    this.wakeScheduled = false;
    for (const c of this.conns) c.wake();
  };

  private accept(socket: net.Socket): void {
    if (this.closed) {
      socket.destroy();
      return;
    }
    const c = new HAConnection(this, socket);
    this.conns.add(c);
    this.parts.logger.info('slave connected', { slave: c.addr });
    socket.once('close', () => {
      this.conns.delete(c);
      this.parts.logger.info('slave disconnected', { slave: c.addr, ackOffset: c.ackOffset });
    });
  }

  async shutdown(): Promise<void> {
    this.closed = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.parts.commitLog.onAppend = undefined;
    for (const w of this.waiters) w.resolve(PutMessageStatus.FLUSH_SLAVE_TIMEOUT);
    this.waiters = [];
    for (const c of this.conns) c.close();
    const server = this.server;
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** One slave: reads its offset reports, streams the log from where it stands. */
class HAConnection {
  readonly addr: string;
  /** Last offset the slave reported (-1: none yet). */
  ackOffset = -1;
  /** Next log offset to send (-1: waiting for the first report). */
  private nextOffset = -1;
  private inbox: Buffer = Buffer.alloc(0);
  private lastRead = Date.now();
  private lastWrite = Date.now();
  private sending = false;
  /** The last span sent ended at a record boundary (the master's written end or a segment end). */
  private lastSpanWhole = false;
  private closed = false;

  constructor(
    private readonly service: HAService,
    private readonly socket: net.Socket,
  ) {
    this.addr = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`;
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => this.onData(d));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closed = true;
    });
  }

  private onData(d: Buffer): void {
    this.lastRead = Date.now();
    this.inbox = this.inbox.length === 0 ? d : Buffer.concat([this.inbox, d]);
    const whole = this.inbox.length - (this.inbox.length % 8);
    if (whole < 8) return;
    // Only the newest report matters.
    const offset = Number(this.inbox.readBigInt64BE(whole - 8));
    this.inbox = this.inbox.subarray(whole);
    if (offset < 0) {
      this.close();
      return;
    }
    if (this.nextOffset < 0) {
      const cl = this.service.parts.commitLog;
      // An empty slave gets everything the master still holds (RocketMQ starts at the last segment).
      this.nextOffset = offset === 0 ? cl.minOffset : offset;
      if (offset > cl.wrotePos) {
        this.service.parts.logger.warn('slave is ahead of the master', { slave: this.addr, slaveOffset: offset, masterOffset: cl.wrotePos });
      }
      this.service.parts.logger.info('slave replication starts', { slave: this.addr, slaveOffset: offset, from: this.nextOffset });
    }
    if (offset > this.ackOffset) {
      this.ackOffset = offset;
      this.service.acked();
    }
    this.wake();
  }

  /** Sends what is there to send, if no send is running. */
  wake(): void {
    if (this.sending || this.closed || this.nextOffset < 0) return;
    this.sending = true;
    this.sendLoop().then(
      () => {
        this.sending = false;
      },
      (e: unknown) => {
        this.sending = false;
        this.service.parts.logger.warn('replication to a slave failed', { slave: this.addr, error: String(e) });
        this.close();
      },
    );
  }

  private async sendLoop(): Promise<void> {
    const { commitLog: cl, config, writeAppended } = this.service.parts;
    const segSize = config.mappedFileSizeCommitLog;
    const batch = config.haTransferBatchSize;
    for (;;) {
      if (this.closed) return;
      writeAppended();
      const from = this.nextOffset;
      // A frame never crosses a segment: a slave appends segment by segment.
      const segEnd = (Math.floor(from / segSize) + 1) * segSize;
      const end = Math.min(cl.writtenPos, segEnd, from + batch * 16);
      if (end <= from) return;
      // ASYNC_MASTER is self-clocked: less than a frame's worth waits while the slave has not
      // acknowledged what it was sent (its report wakes this loop). Under load the records of several
      // turns then leave together, and the slave reads, appends, writes and reports once for all of
      // them instead of once per turn; lightly loaded, a put still leaves at once (nothing is
      // unacked). Only after a span that ended on a record boundary: the slave can acknowledge
      // nothing past a cut record until it has the rest. Not for SYNC_MASTER, whose replies wait for
      // the acknowledgements: one span in flight turns producer, master and slave into a ping-pong
      // that leaves the cores idle (measured: fewer msgs/s at less CPU per message).
      if (this.service.selfClocked && end - from < batch && this.lastSpanWhole && this.ackOffset < from) return;
      const data = await cl.read(from, end - from);
      if (data === undefined) throw new Error(`commit log range [${from}, ${end}) is not readable (deleted?)`);
      let ok = true;
      // Every frame of this span leaves in one writev.
      this.socket.cork();
      for (let p = 0; p < data.length; p += batch) {
        const body = data.subarray(p, Math.min(data.length, p + batch));
        const head = Buffer.allocUnsafe(HA_HEADER_SIZE);
        head.writeBigInt64BE(BigInt(from + p), 0);
        head.writeInt32BE(body.length, 8);
        this.socket.write(head);
        ok = this.socket.write(body);
      }
      this.socket.uncork();
      this.nextOffset = end;
      this.lastSpanWhole = end === cl.writtenPos || end === segEnd;
      this.lastWrite = Date.now();
      if (!ok) await new Promise<void>((resolve) => this.socket.once('drain', resolve).once('close', resolve));
    }
  }

  housekeeping(now: number): void {
    const c = this.service.parts.config;
    if (now - this.lastRead > c.haHousekeepingInterval) {
      this.service.parts.logger.warn('slave silent; closing its replication connection', { slave: this.addr, silentMs: now - this.lastRead });
      this.close();
      return;
    }
    if (!this.sending && this.nextOffset >= 0 && now - this.lastWrite > c.haSendHeartbeatInterval) {
      const head = Buffer.allocUnsafe(HA_HEADER_SIZE);
      head.writeBigInt64BE(BigInt(this.nextOffset), 0);
      head.writeInt32BE(0, 8);
      this.socket.write(head);
      this.lastWrite = now;
    }
  }

  close(): void {
    this.closed = true;
    this.socket.destroy();
  }
}
