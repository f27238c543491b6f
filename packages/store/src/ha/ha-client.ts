// Slave side of classic HA: connects to the master's HA port, reports the local commit-log end (8-byte
// offsets: on connect, after each append, and every haSendHeartbeatInterval), and appends what the
// master streams through the raw appender, which dispatches consume queues and index as the master
// did. Frame bodies are joined in a stage buffer as they arrive, and everything whole that a read
// brought is appended, handed to the OS and acknowledged at once (one write and one report per read,
// not per frame). Frames may cut records (a Java master cuts anywhere): the cut tail waits in the stage.
import net from 'node:net';
import { BLANK_MAGIC_CODE } from '@rocketmq-ts/protocol';
import type { CommitLog } from '../commitlog/commit-log.js';
import type { MessageStoreConfig } from '../config.js';
import type { HAClientStatus } from '../message-store.js';
import type { StoreLogger } from '../probe.js';
import { HA_HEADER_SIZE } from './ha-service.js';
import type { RawCommitLogAppender } from './raw-append.js';

/** ms between connection attempts to the master. */
const RECONNECT_MS = 5_000;
/** First size of the receive stage (it grows to the largest record plus a frame). */
const STAGE_INITIAL = 1024 * 1024;

export interface HAClientParts {
  config: MessageStoreConfig;
  commitLog: CommitLog;
  appender: RawCommitLogAppender;
  logger: StoreLogger;
  writeAppended: () => boolean;
}

export class HAClient {
  private masterAddress: string;
  private socket: net.Socket | undefined;
  /** Header of the frame being received (a read may cut it). */
  private readonly head = Buffer.alloc(HA_HEADER_SIZE);
  private headFill = 0;
  /** Body bytes of the current frame still to come. */
  private bodyLeft = 0;
  /**
   * Received frame bodies past the local log end, joined: stage[0, stageLen) is the master's log from
   * stageBase on. Bodies are copied here once as they arrive; whole records leave from the front in
   * one append per drain, a cut record's head stays until its tail comes.
   */
  private stage: Buffer = Buffer.allocUnsafeSlow(STAGE_INITIAL);
  private stageLen = 0;
  private stageBase = -1;
  /** An append of stage[0, ..) is under way: the stage's front must stay as it is. */
  private appending = false;
  private drainQueued = false;
  private applying: Promise<void> = Promise.resolve();
  private lastRead = 0;
  private lastReport = 0;
  private reported = -1;
  private masterEnd = -1;
  private timer: NodeJS.Timeout | undefined;
  private reconnectAt = 0;
  private stopped = false;

  constructor(private readonly parts: HAClientParts) {
    this.masterAddress = parts.config.haMasterAddress;
  }

  /** The master's HA address changed (the name servers told us, or haMasterAddress). */
  updateMasterAddress(addr: string): void {
    if (addr === this.masterAddress) return;
    this.parts.logger.info('master HA address', { from: this.masterAddress || '(none)', to: addr });
    this.masterAddress = addr;
    this.disconnect('the master address changed');
    this.reconnectAt = 0;
  }

  start(): void {
    this.timer = setInterval(() => this.tick(), 200);
    this.timer.unref();
    this.tick();
  }

  status(): HAClientStatus {
    const local = this.parts.commitLog.wrotePos;
    return {
      masterAddress: this.masterAddress,
      connected: this.socket !== undefined && !this.socket.destroyed && this.reported >= 0,
      localOffset: local,
      masterOffset: this.masterEnd,
      behindBytes: this.masterEnd < 0 ? 0 : Math.max(0, this.masterEnd - local),
    };
  }

  private tick(): void {
    if (this.stopped) return;
    const now = Date.now();
    const c = this.parts.config;
    if (this.socket === undefined) {
      if (this.masterAddress !== '' && now >= this.reconnectAt) this.connect();
      return;
    }
    if (this.reported >= 0 && now - this.lastRead > c.haHousekeepingInterval) {
      this.disconnect(`nothing from the master for ${now - this.lastRead} ms`);
      return;
    }
    if (now - this.lastReport >= c.haSendHeartbeatInterval) this.report(true);
  }

  private connect(): void {
    const [host, portText] = splitHostPort(this.masterAddress);
    this.reconnectAt = Date.now() + RECONNECT_MS;
    const socket = net.connect({ host, port: Number(portText), noDelay: true });
    this.socket = socket;
    this.headFill = 0;
    this.bodyLeft = 0;
    // A new stage: an append for the old connection may still read the old one's front.
    this.stage = Buffer.allocUnsafeSlow(STAGE_INITIAL);
    this.stageLen = 0;
    this.stageBase = -1;
    this.reported = -1;
    socket.once('connect', () => {
      this.lastRead = Date.now();
      this.parts.logger.info('connected to the master for replication', { master: this.masterAddress, localOffset: this.parts.commitLog.wrotePos });
      this.report(true);
    });
    socket.on('data', (d: Buffer) => this.onData(d));
    socket.on('error', () => undefined);
    socket.once('close', () => {
      if (this.socket === socket) this.socket = undefined;
    });
  }

  private disconnect(why: string): void {
    const s = this.socket;
    if (s === undefined) return;
    this.parts.logger.warn('replication connection closed', { master: this.masterAddress, reason: why });
    this.socket = undefined;
    s.destroy();
  }

  /** Reports the local end (always on connect and on heartbeats, else only when it moved). */
  private report(force: boolean): void {
    const s = this.socket;
    if (s === undefined || s.destroyed) return;
    const offset = this.parts.commitLog.wrotePos;
    if (!force && offset === this.reported) return;
    const b = Buffer.allocUnsafe(8);
    b.writeBigInt64BE(BigInt(offset), 0);
    s.write(b);
    this.reported = offset;
    this.lastReport = Date.now();
  }

  private onData(d: Buffer): void {
    this.lastRead = Date.now();
    let p = 0;
    while (p < d.length) {
      if (this.bodyLeft === 0) {
        let head: Buffer = this.head;
        if (this.headFill === 0 && d.length - p >= HA_HEADER_SIZE) {
          head = d.subarray(p, p + HA_HEADER_SIZE);
          p += HA_HEADER_SIZE;
        } else {
          const n = Math.min(HA_HEADER_SIZE - this.headFill, d.length - p);
          d.copy(this.head, this.headFill, p, p + n);
          this.headFill += n;
          p += n;
          if (this.headFill < HA_HEADER_SIZE) break;
          this.headFill = 0;
        }
        const offset = Number(head.readBigInt64BE(0));
        const size = head.readInt32BE(8);
        if (size < 0) {
          this.disconnect(`bad frame size ${size}`);
          return;
        }
        this.masterEnd = Math.max(this.masterEnd, offset + size);
        if (this.stageLen === 0 && !this.appending) {
          // Nothing held back: the stream (re)starts here; the drain checks it against the log end.
          this.stageBase = offset;
        } else if (offset !== this.stageBase + this.stageLen) {
          this.disconnect(`frame at ${offset}, expected ${this.stageBase + this.stageLen}`);
          return;
        }
        this.bodyLeft = size;
        continue;
      }
      const n = Math.min(this.bodyLeft, d.length - p);
      this.stagePut(d, p, n);
      p += n;
      this.bodyLeft -= n;
    }
    if (this.stageLen > 0) this.drain();
  }

  private stagePut(d: Buffer, from: number, n: number): void {
    const need = this.stageLen + n;
    if (need > this.stage.length) {
      // The old buffer is left as it is: a running append may still read its front.
      const bigger = Buffer.allocUnsafeSlow(Math.max(need, this.stage.length * 2));
      this.stage.copy(bigger, 0, 0, this.stageLen);
      this.stage = bigger;
    }
    d.copy(this.stage, this.stageLen, from, from + n);
    this.stageLen = need;
  }

  /** Drops `n` bytes from the stage's front. */
  private stageTake(n: number): void {
    if (n >= this.stageLen) {
      this.stageBase += this.stageLen;
      this.stageLen = 0;
      return;
    }
    this.stage.copyWithin(0, n, this.stageLen);
    this.stageLen -= n;
    this.stageBase += n;
  }

  /** Appends the whole records the stage holds, after any append already queued (arrival order). */
  private drain(): void {
    if (this.drainQueued) return;
    this.drainQueued = true;
    const socket = this.socket;
    this.applying = this.applying.then(() => {
      this.drainQueued = false;
      return this.socket === socket ? this.drainNow(socket) : undefined;
    });
  }

  private async drainNow(socket: net.Socket | undefined): Promise<void> {
    const cl = this.parts.commitLog;
    while (this.socket === socket && this.stageLen > 0) {
      if (cl.isEmpty && this.stageBase > 0) {
        // A new slave: its log begins where the master's oldest segment does.
        try {
          cl.startEmptyAt(this.stageBase);
        } catch (e) {
          this.disconnect(`cannot start the empty log at ${this.stageBase}: ${String(e)}`);
          return;
        }
        this.parts.logger.info('empty commit log starts at the master offset', { offset: this.stageBase });
      }
      // Bytes the log already has: a resend from a stale report, or the rest of a segment's closing
      // blank, which the appender skipped.
      if (this.stageBase < cl.wrotePos) this.stageTake(Math.min(this.stageLen, cl.wrotePos - this.stageBase));
      if (this.stageLen === 0) return;
      if (this.stageBase !== cl.wrotePos) {
        this.disconnect(`data at ${this.stageBase}, the log ends at ${cl.wrotePos}`);
        return;
      }
      const whole = completeLength(this.stage, this.stageLen, cl.wrotePos, this.parts.config.mappedFileSizeCommitLog);
      if (whole === 0) return;
      // TCP checksums the stream; the records' framing, magic and offsets are still checked (a body
      // CRC per record would cost the slave as much CPU as the master spends storing them).
      this.appending = true;
      let ok: boolean;
      try {
        ok = await this.parts.appender.append(cl.wrotePos, this.stage.subarray(0, whole), false);
      } finally {
        this.appending = false;
      }
      if (this.socket !== socket) return;
      if (!ok) {
        this.stageLen = 0;
        this.disconnect(`the chunk at ${this.stageBase} was refused`);
        return;
      }
      this.stageTake(whole);
      // What is acknowledged to the master is in the slave's files (handed to the OS).
      this.parts.writeAppended();
      this.report(false);
    }
  }

  async shutdown(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.disconnect('shutting down');
    await this.applying.catch(() => undefined);
  }
}

/**
 * Bytes at the start of data[0, length) (which begins at log offset `at`) that hold whole records, or blank
 * records closing a segment (those may be cut: the appender skips to the segment end).
 */
function completeLength(data: Buffer, length: number, at: number, segmentSize: number): number {
  let p = 0;
  while (p + 8 <= length) {
    const size = data.readInt32BE(p);
    const magic = data.readInt32BE(p + 4);
    if (magic === BLANK_MAGIC_CODE) {
      const segEnd = (Math.floor((at + p) / segmentSize) + 1) * segmentSize;
      return Math.min(length, p + (segEnd - (at + p)));
    }
    if (size <= 0 || p + size > length) break;
    p += size;
  }
  return p;
}

function splitHostPort(addr: string): [string, string] {
  const i = addr.lastIndexOf(':');
  return [addr.slice(0, i), addr.slice(i + 1)];
}
