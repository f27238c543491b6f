// Slave side of classic HA: connects to the master's HA port, reports the local commit-log end (8-byte
// offsets: on connect, after each applied frame, and every haSendHeartbeatInterval), and appends what
// the master streams through the raw appender, which dispatches consume queues and index as the master
// did. Frames may cut records (a Java master cuts anywhere): the cut tail waits for the next frame.
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
  private inbox: Buffer = Buffer.alloc(0);
  /** Received bytes past the local log end that do not yet form a whole record. */
  private partial: Buffer = Buffer.alloc(0);
  /** Frames received after `partial` while its first record is still incomplete (joined once it is). */
  private pending: Buffer[] = [];
  private pendingLength = 0;
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
    this.inbox = Buffer.alloc(0);
    this.partial = Buffer.alloc(0);
    this.pending = [];
    this.pendingLength = 0;
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
    this.inbox = this.inbox.length === 0 ? d : Buffer.concat([this.inbox, d]);
    const socket = this.socket;
    while (this.inbox.length >= HA_HEADER_SIZE) {
      const size = this.inbox.readInt32BE(8);
      if (size < 0) {
        this.disconnect(`bad frame size ${size}`);
        return;
      }
      if (this.inbox.length < HA_HEADER_SIZE + size) break;
      const offset = Number(this.inbox.readBigInt64BE(0));
      const body = this.inbox.subarray(HA_HEADER_SIZE, HA_HEADER_SIZE + size);
      this.inbox = this.inbox.subarray(HA_HEADER_SIZE + size);
      this.masterEnd = Math.max(this.masterEnd, offset + size);
      // Frames apply one after another, in arrival order.
      this.applying = this.applying.then(() => (this.socket === socket ? this.apply(offset, body) : undefined));
    }
  }

  private async apply(offset: number, body: Buffer): Promise<void> {
    const cl = this.parts.commitLog;
    if (cl.isEmpty && offset > 0 && this.partial.length === 0 && this.pendingLength === 0) {
      // A new slave: its log begins where the master's oldest segment does.
      cl.startEmptyAt(offset);
      this.parts.logger.info('empty commit log starts at the master offset', { offset });
    }
    if (this.partial.length === 0 && this.pendingLength === 0 && offset < cl.wrotePos && offset + body.length > 0) {
      // Bytes the log already has: the rest of a segment's closing blank, which the appender skipped.
      const skip = Math.min(body.length, cl.wrotePos - offset);
      body = body.subarray(skip);
      offset += skip;
      if (body.length === 0) return;
    }
    const expected = cl.wrotePos + this.partial.length + this.pendingLength;
    if (offset !== expected) {
      this.disconnect(`frame at ${offset}, expected ${expected}`);
      return;
    }
    if (body.length === 0) return; // heartbeat
    // A large record arrives in many frames: collect them, and join once when it is complete
    // (joining on every frame would copy it over and over).
    if (this.partial.length >= 4) {
      const need = this.partial.readInt32BE(0);
      if (need > 0 && this.partial.length + this.pendingLength + body.length < need) {
        this.pending.push(body);
        this.pendingLength += body.length;
        return;
      }
    }
    const data = this.partial.length === 0 ? body : Buffer.concat([this.partial, ...this.pending, body]);
    this.pending = [];
    this.pendingLength = 0;
    const whole = completeLength(data, cl.wrotePos, this.parts.config.mappedFileSizeCommitLog);
    this.partial = Buffer.from(data.subarray(whole));
    if (whole === 0) return;
    // TCP checksums the stream; the records' framing, magic and offsets are still checked (a body
    // CRC per record would cost the slave as much CPU as the master spends storing them).
    const ok = await this.parts.appender.append(cl.wrotePos, data.subarray(0, whole), false);
    if (!ok) {
      this.partial = Buffer.alloc(0);
      this.disconnect(`the chunk at ${cl.wrotePos} was refused`);
      return;
    }
    // What is acknowledged to the master is in the slave's files (handed to the OS).
    this.parts.writeAppended();
    this.report(false);
  }

  async shutdown(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.disconnect('shutting down');
    await this.applying.catch(() => undefined);
  }
}

/**
 * Bytes at the start of `data` (which begins at log offset `at`) that hold whole records, or blank
 * records closing a segment (those may be cut: the appender skips to the segment end).
 */
function completeLength(data: Buffer, at: number, segmentSize: number): number {
  let p = 0;
  while (p + 8 <= data.length) {
    const size = data.readInt32BE(p);
    const magic = data.readInt32BE(p + 4);
    if (magic === BLANK_MAGIC_CODE) {
      const segEnd = (Math.floor((at + p) / segmentSize) + 1) * segmentSize;
      return Math.min(data.length, p + (segEnd - (at + p)));
    }
    if (size <= 0 || p + size > data.length) break;
    p += size;
  }
  return p;
}

function splitHostPort(addr: string): [string, string] {
  const i = addr.lastIndexOf(':');
  return [addr.slice(0, i), addr.slice(i + 1)];
}
