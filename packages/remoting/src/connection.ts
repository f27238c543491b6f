import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import {
  DEFAULT_MAX_FRAME_LENGTH,
  FrameDecoder,
  HeaderError,
  MQError,
  ProtocolError,
  RPC_ONEWAY,
  RPC_RESPONSE,
  RemotingCommand,
  ResponseCode,
  SerializeType,
  decodeCommand,
  encodeCommandPrefix,
  encodeCommandPrefixInto,
} from '@rocketmq-ts/protocol';
import { errorText, type Logger } from './logger.js';

/** What a request handler may return: a reply, or null for "no reply now" (e.g. long polling). */
export type HandlerResult = RemotingCommand | null | undefined | PromiseLike<RemotingCommand | null | undefined> | ObservableLike;

/** Accepted only as a fallback (Nest's own handler proxies resolve to Observables). */
export interface ObservableLike {
  subscribe(observer: { next?: (v: unknown) => void; error?: (e: unknown) => void; complete?: () => void }): unknown;
}

export type RequestHandler = (cmd: RemotingCommand, conn: RemotingConnection) => HandlerResult;

/** Checks a request before dispatch: a reply to send instead of handling it, or null to go on. */
export type RequestGuard = (cmd: RemotingCommand, conn: RemotingConnection) => RemotingCommand | null;

/** Per-request hook for metrics; only called when set, so an unmetered server pays nothing. */
export interface RemotingProbe {
  /** `responseCode` is -1 when no reply was sent (oneway or a handler that returned null). */
  requestDone(requestCode: number, responseCode: number, elapsedMs: number): void;
}

/** The side (server or client) that owns connections: its handler table, probe and close hook. */
export interface ConnectionOwner {
  readonly handlers: ReadonlyMap<number, RequestHandler>;
  readonly probe: RemotingProbe | undefined;
  readonly log: Logger;
  /**
   * Runs before each write of output to a socket. A server whose replies promise durability
   * (a broker: "stored") makes the promise true here; false = the promise cannot be kept, so the
   * connection is closed instead of writing (the peer sees no reply and retries).
   */
  readonly beforeOutput?: (() => boolean) | undefined;
  /**
   * Runs before a request is dispatched (e.g. ACL): a command returned is the reply and the
   * handler is not called; null lets the request through. Unset = no check at all.
   */
  readonly requestGuard?: RequestGuard | undefined;
  connectionClosed(conn: RemotingConnection, reason: string): void;
}

export interface ConnectionOptions {
  maxFrameLength?: number;
  /**
   * Close after this long without traffic in either direction, or when a frame that has begun
   * to arrive is still incomplete after this long (a peer trickling bytes); 0 = never.
   */
  idleTimeoutMs?: number;
  /** Stop reading from the peer while more than this many bytes of our output to it are queued (default 16 MiB). */
  writeBufferHighWaterMark?: number;
}

/** Stop reading from a peer while this much of our output to it is still queued. */
export const DEFAULT_WRITE_BUFFER_HIGH_WATER_MARK = 16 * 1024 * 1024;
/**
 * Output of one tick is staged in slabs of this size and leaves in one socket write: frame
 * prefixes are encoded straight into the slab and bodies below COPY_LIMIT are copied after them
 * (a memcpy is cheaper than a stream write per buffer); larger bodies go out as their own buffers.
 */
const SLAB_SIZE = 64 * 1024;
const COPY_LIMIT = 16 * 1024;

let nextConnectionId = 1;

class PendingCall {
  constructor(
    readonly opaque: number,
    readonly timeoutMs: number,
    /** Date.now() after which the call fails with RPC_TIME_OUT. */
    readonly deadline: number,
    readonly resolve: (r: RemotingCommand) => void,
    readonly reject: (e: Error) => void,
  ) {}
}

function onDeadlineTimer(conn: RemotingConnection): void {
  conn.expireDue();
}

const EMPTY = Buffer.alloc(0);
/** Spare slabs kept per connection: output slabs are reused once the socket is done with them. */
const SPARE_SLABS = 4;

/** Memory that socket writes hold: `writes` counts the writes not yet done, each calls `done` when it is. */
interface WriteHold {
  writes: number;
  readonly done: () => void;
}

/**
 * An output slab and the socket writes still holding ranges of it. Reusing slabs matters: a
 * fresh 64 KiB buffer per few hundred replies (or per few dozen 1 KiB sends) is external memory
 * that drives V8 into frequent full collections.
 */
class OutSlab implements WriteHold {
  writes = 0;
  retired = false;
  readonly done: () => void;
  constructor(
    readonly buf: Buffer,
    spares: OutSlab[],
  ) {
    this.done = () => {
      if (--this.writes === 0 && this.retired && spares.length < SPARE_SLABS) {
        this.retired = false;
        spares.push(this);
      }
    };
  }
}
const NO_SLAB = new OutSlab(EMPTY, []);

/** Body buffers lent by the sender (send's onWritten): given back when the last write holding one is done. */
class BodyHold implements WriteHold {
  writes = 0;
  readonly done: () => void;
  constructor(onWritten: () => void) {
    this.done = () => {
      if (--this.writes === 0) onWritten();
    };
  }
}

function flushConnection(conn: RemotingConnection): void {
  conn.flush();
}

function isPromiseLike(v: object): v is PromiseLike<unknown> {
  return typeof (v as { then?: unknown }).then === 'function';
}

function isObservableLike(v: unknown): v is ObservableLike {
  return v !== null && typeof v === 'object' && typeof (v as { subscribe?: unknown }).subscribe === 'function';
}

/**
 * One TCP connection speaking RocketMQ remoting, on either side: frames in through a
 * FrameDecoder, requests dispatched to the owner's handler table, responses matched to pending
 * `invoke` calls by opaque. Writes made in the same tick are staged and leave in one socket write.
 */
export class RemotingConnection {
  readonly id = nextConnectionId++;
  /** "ip:port" of the peer. */
  readonly remoteAddress: string;
  /** Free slot for the owner (e.g. which broker or client this is). */
  attachment: unknown = undefined;
  private readonly decoder: FrameDecoder;
  private readonly pending = new Map<number, PendingCall>();
  /**
   * One timer per connection for call deadlines, armed for the earliest one (a timer per call
   * costs a timer insert and removal per request on a busy pipeline).
   */
  private deadlineTimer: NodeJS.Timeout | null = null;
  private deadlineAt = Infinity;
  private flushScheduled = false;
  /** Staging slab: out[outFrom, outPos) is this tick's output not yet handed to the socket. */
  private slab: OutSlab = NO_SLAB;
  private out: Buffer = EMPTY;
  private outPos = 0;
  private outFrom = 0;
  private readonly spareSlabs: OutSlab[] = [];
  /** Buffers queued this tick before the staged range (large bodies and closed slab ranges), with their slab. */
  private queued: Buffer[] = [];
  private queuedSlabs: (WriteHold | null)[] = [];
  private pausedForOutput = false;
  private closedReason: string | null = null;
  private closeRequested: string | null = null;
  /** Requests whose handler has not settled yet (asynchronous handlers). */
  private inFlight = 0;
  private onIdle: (() => void) | null = null;
  /** performance.now() when the chunk being processed was read off the socket (flow control: time in queue). */
  lastReadAt = 0;
  /** performance.now() when the incomplete frame in the decoder began to arrive; 0 = none. */
  private partialSince = 0;
  private readonly idleTimeoutMs: number;
  private readonly highWater: number;
  /** Times reading was paused because the peer did not read its replies (tests, metrics). */
  pausedCount = 0;

  constructor(
    readonly socket: Socket,
    private readonly owner: ConnectionOwner,
    opts: ConnectionOptions = {},
  ) {
    this.remoteAddress = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`;
    this.decoder = new FrameDecoder(opts.maxFrameLength ?? DEFAULT_MAX_FRAME_LENGTH);
    this.onFrame = this.onFrame.bind(this);
    this.idleTimeoutMs = opts.idleTimeoutMs ?? 0;
    this.highWater = opts.writeBufferHighWaterMark ?? DEFAULT_WRITE_BUFFER_HIGH_WATER_MARK;
    socket.setNoDelay(true);
    if (opts.idleTimeoutMs && opts.idleTimeoutMs > 0) {
      socket.setTimeout(opts.idleTimeoutMs);
      socket.on('timeout', () => this.close(`idle for ${Math.round(opts.idleTimeoutMs! / 1000)} s`));
    }
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (e: Error) => {
      if (this.closeRequested === null) this.closeRequested = `socket error: ${e.message}`;
    });
    socket.on('close', () => this.onSocketClose());
    socket.on('drain', () => {
      if (this.pausedForOutput) {
        this.pausedForOutput = false;
        socket.resume();
      }
    });
  }

  get isClosed(): boolean {
    return this.closedReason !== null || this.closeRequested !== null;
  }

  /** Why the connection closed (null while open). */
  get closeReason(): string | null {
    return this.closedReason;
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  // -------------------------------------------------------------------------------------------
  // inbound

  /** Whether reading is paused because the peer does not read its replies. */
  get isPausedForOutput(): boolean {
    return this.pausedForOutput;
  }

  private onData(chunk: Buffer): void {
    const now = performance.now();
    this.lastReadAt = now;
    try {
      this.decoder.push(chunk, this.onFrame);
      if (this.decoder.pendingBytes === 0) {
        this.partialSince = 0;
      } else if (this.partialSince === 0) {
        this.partialSince = now;
      } else if (this.idleTimeoutMs > 0 && now - this.partialSince > this.idleTimeoutMs && this.closeRequested === null) {
        // Bytes keep coming but the frame never completes: a trickling peer must not hold a connection forever.
        const reason = `frame incomplete after ${Math.round((now - this.partialSince) / 1000)} s (${this.decoder.pendingBytes} bytes so far)`;
        this.owner.log.warn(`closing connection from ${this.remoteAddress}: ${reason}`);
        this.close(reason);
      }
    } catch (e) {
      if (e instanceof ProtocolError) {
        this.owner.log.warn(`closing connection from ${this.remoteAddress}: ${e.message}`);
        this.close(`protocol error: ${e.message}`);
      } else {
        this.owner.log.error(`closing connection from ${this.remoteAddress} after an unexpected error`, e);
        this.close(`internal error: ${errorText(e)}`);
      }
    }
  }

  private onFrame(frame: Buffer): void {
    if (this.closeRequested !== null) return;
    const cmd = decodeCommand(frame);
    if ((cmd.flag & RPC_RESPONSE) !== 0) this.completeResponse(cmd);
    else this.dispatch(cmd);
  }

  private completeResponse(res: RemotingCommand): void {
    const p = this.pending.get(res.opaque);
    if (p === undefined) {
      if (this.owner.log.isDebugEnabled()) this.owner.log.debug(`response with unknown opaque ${res.opaque} from ${this.remoteAddress} dropped`);
      return;
    }
    this.pending.delete(res.opaque);
    if (this.pending.size === 0) this.clearDeadlineTimer();
    p.resolve(res);
  }

  private dispatch(cmd: RemotingCommand): void {
    const probe = this.owner.probe;
    const t0 = probe === undefined ? 0 : performance.now();
    const handler = this.owner.handlers.get(cmd.code);
    if (handler === undefined) {
      this.reply(cmd, RemotingCommand.responseTo(cmd, ResponseCode.REQUEST_CODE_NOT_SUPPORTED, ` request type ${cmd.code} not supported`), t0);
      return;
    }
    const guard = this.owner.requestGuard;
    if (guard !== undefined) {
      let denied: RemotingCommand | null;
      try {
        denied = guard(cmd, this);
      } catch (e) {
        this.replyError(cmd, e, t0);
        return;
      }
      if (denied !== null) {
        this.reply(cmd, denied, t0);
        return;
      }
    }
    let r: HandlerResult;
    try {
      r = handler(cmd, this);
    } catch (e) {
      this.replyError(cmd, e, t0);
      return;
    }
    if (r === null || r === undefined) {
      if (probe !== undefined) probe.requestDone(cmd.code, -1, performance.now() - t0);
    } else if (r instanceof RemotingCommand) {
      this.reply(cmd, r, t0);
    } else if (isPromiseLike(r)) {
      this.inFlight++;
      this.settle(cmd, r, t0);
    } else if (isObservableLike(r)) {
      this.inFlight++;
      this.settleObservable(cmd, r, t0);
    } else {
      this.replyError(cmd, new Error(`handler for request code ${cmd.code} returned ${typeof r}`), t0);
    }
  }

  /** An asynchronous handler (counted in inFlight) settles its request. */
  private settle(cmd: RemotingCommand, p: PromiseLike<unknown>, t0: number): void {
    p.then(
      (v) => {
        if (isObservableLike(v)) {
          this.settleObservable(cmd, v, t0);
        } else {
          this.settleValue(cmd, v, t0);
          this.asyncDone();
        }
      },
      (e: unknown) => {
        this.replyError(cmd, e, t0);
        this.asyncDone();
      },
    );
  }

  private settleObservable(cmd: RemotingCommand, o: ObservableLike, t0: number): void {
    let last: unknown = null;
    o.subscribe({
      next: (v) => (last = v),
      error: (e) => {
        this.replyError(cmd, e, t0);
        this.asyncDone();
      },
      complete: () => {
        this.settleValue(cmd, last, t0);
        this.asyncDone();
      },
    });
  }

  private asyncDone(): void {
    if (--this.inFlight === 0 && this.onIdle !== null) this.onIdle();
  }

  private settleValue(cmd: RemotingCommand, v: unknown, t0: number): void {
    if (v instanceof RemotingCommand) this.reply(cmd, v, t0);
    else if (v === null || v === undefined) this.owner.probe?.requestDone(cmd.code, -1, performance.now() - t0);
    else this.replyError(cmd, new Error(`handler for request code ${cmd.code} resolved to something that is not a RemotingCommand`), t0);
  }

  private replyError(cmd: RemotingCommand, e: unknown, t0: number): void {
    let res: RemotingCommand;
    if (e instanceof MQError) {
      res = RemotingCommand.responseTo(cmd, e.code, e.remark ?? e.message);
    } else if (e instanceof HeaderError || e instanceof ProtocolError) {
      // A header or body that does not decode: RocketMQ answers SYSTEM_ERROR with the decoder's
      // text. The peer's mistake, not ours: no warning per request.
      res = RemotingCommand.responseTo(cmd, ResponseCode.SYSTEM_ERROR, e.message);
    } else {
      const text = errorText(e);
      this.owner.log.warn(`request code ${cmd.code} from ${this.remoteAddress} failed: ${text}`);
      res = RemotingCommand.responseTo(cmd, ResponseCode.SYSTEM_ERROR, text);
    }
    this.reply(cmd, res, t0);
  }

  /** Sends `res` as the reply to `req` (same opaque and serialisation), unless `req` was oneway. */
  reply(req: RemotingCommand, res: RemotingCommand, t0 = 0): void {
    const probe = this.owner.probe;
    if ((req.flag & RPC_ONEWAY) !== 0) {
      if (probe !== undefined) probe.requestDone(req.code, -1, performance.now() - t0);
      return;
    }
    res.opaque = req.opaque;
    res.flag |= RPC_RESPONSE;
    res.serializeType = req.serializeType;
    this.send(res);
    if (probe !== undefined) probe.requestDone(req.code, res.code, performance.now() - t0);
  }

  // -------------------------------------------------------------------------------------------
  // outbound

  /**
   * Writes one command. `bodyParts`, when given, replace `cmd.body` (e.g. message records sliced
   * from the store); bodies are never re-encoded. Everything written in one tick leaves in one
   * socket write at the end of the tick. Returns false when the connection is closed.
   *
   * `onWritten`, with bodyParts: the parts' memory is lent and may be reused once this returns
   * it — at once when every part was copied into an output slab, else when the socket is done
   * with the last write holding a part. Not called when the connection closes before that (the
   * memory is then left to the collector), nor when this returns false.
   */
  send(cmd: RemotingCommand, bodyParts?: readonly Buffer[], onWritten?: () => void): boolean {
    if (this.closedReason !== null || this.closeRequested !== null) return false;
    let bodyLen = 0;
    if (bodyParts !== undefined) for (let i = 0; i < bodyParts.length; i++) bodyLen += bodyParts[i]!.length;
    else if (cmd.body !== null) bodyLen = cmd.body.length;
    // ROCKETMQ headers carry the code in 16 bits: codes beyond that must travel as JSON.
    if (cmd.serializeType === SerializeType.ROCKETMQ && (cmd.code > 32767 || cmd.code < -32768)) cmd.serializeType = SerializeType.JSON;
    let end = encodeCommandPrefixInto(cmd, bodyLen, this.out, this.outPos);
    if (end < 0) {
      this.newSlab();
      end = encodeCommandPrefixInto(cmd, bodyLen, this.out, this.outPos);
      if (end < 0) {
        // A header larger than a slab (huge extFields): its own buffer.
        this.queueBuffer(encodeCommandPrefix(cmd, bodyLen), null);
        end = this.outPos;
      }
    }
    this.outPos = end;
    if (bodyParts !== undefined) {
      const hold = onWritten === undefined ? null : new BodyHold(onWritten);
      let held = false;
      for (let i = 0; i < bodyParts.length; i++) if (this.stageBody(bodyParts[i]!, hold)) held = true;
      // Every part was copied: nothing of the lent memory is referenced any more.
      if (onWritten !== undefined && !held) onWritten();
    } else if (bodyLen > 0) {
      this.stageBody(cmd.body!, null);
    }
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      process.nextTick(flushConnection, this);
    }
    return true;
  }

  /** Copies a small body into the slab, or queues a large one as it is (with `hold`): true when queued. */
  private stageBody(b: Buffer, hold: BodyHold | null): boolean {
    const n = b.length;
    if (n === 0) return false;
    if (n > COPY_LIMIT) {
      this.queueBuffer(b, hold);
      return true;
    }
    if (this.outPos + n > this.out.length) this.newSlab();
    b.copy(this.out, this.outPos);
    this.outPos += n;
    return false;
  }

  /** Queues a buffer after what is staged so far (order is kept); `hold`, when given, counts its write when it is made. */
  private queueBuffer(b: Buffer, hold: BodyHold | null): void {
    if (this.outPos > this.outFrom) {
      this.queued.push(this.out.subarray(this.outFrom, this.outPos));
      this.queuedSlabs.push(this.slab);
      this.outFrom = this.outPos;
    }
    this.queued.push(b);
    this.queuedSlabs.push(hold);
  }

  /** Closes the staged range and starts another slab (bytes handed out are never overwritten). */
  private newSlab(): void {
    if (this.outPos > this.outFrom) {
      this.queued.push(this.out.subarray(this.outFrom, this.outPos));
      this.queuedSlabs.push(this.slab);
    }
    this.retireSlab();
    const slab = this.spareSlabs.pop() ?? new OutSlab(Buffer.allocUnsafeSlow(SLAB_SIZE), this.spareSlabs);
    this.slab = slab;
    this.out = slab.buf;
    this.outPos = 0;
    this.outFrom = 0;
  }

  /** The current slab takes no more output; it becomes a spare once its writes are done. */
  private retireSlab(): void {
    const old = this.slab;
    if (old === NO_SLAB) return;
    old.retired = true;
    // Ranges queued this tick are counted when written; until then the slab must not be reused.
    if (old.writes === 0 && !this.queuedSlabs.includes(old) && this.spareSlabs.length < SPARE_SLABS) {
      old.retired = false;
      this.spareSlabs.push(old);
    }
    this.slab = NO_SLAB;
    this.out = EMPTY;
    this.outPos = 0;
    this.outFrom = 0;
  }

  /** @internal hands the tick's output to the socket. */
  flush(): void {
    this.flushScheduled = false;
    const before = this.owner.beforeOutput;
    if (before !== undefined && !before()) {
      this.queued = [];
      this.queuedSlabs = [];
      this.outFrom = this.outPos;
      this.close('output refused: the server could not keep what its replies promise');
      return;
    }
    const socket = this.socket;
    const q = this.queued;
    const qs = this.queuedSlabs;
    const slab = this.slab;
    const staged = this.outPos > this.outFrom ? this.out.subarray(this.outFrom, this.outPos) : null;
    this.outFrom = this.outPos;
    if (q.length > 0) {
      this.queued = [];
      this.queuedSlabs = [];
    }
    if (socket.destroyed) return;
    if (q.length === 0) {
      if (staged !== null) {
        slab.writes++;
        socket.write(staged, slab.done);
      }
    } else {
      socket.cork();
      for (let i = 0; i < q.length; i++) {
        const from = qs[i];
        if (from !== null && from !== undefined) {
          from.writes++;
          socket.write(q[i]!, from.done);
        } else {
          socket.write(q[i]!);
        }
      }
      if (staged !== null) {
        slab.writes++;
        socket.write(staged, slab.done);
      }
      socket.uncork();
    }
    // Nearly full: start the next tick in another slab rather than with a sliver.
    if (this.out.length - this.outPos < 512) this.retireSlab();
    if (!this.pausedForOutput && socket.writableLength > this.highWater) {
      // The peer does not read its replies: stop reading its requests until it catches up.
      this.pausedForOutput = true;
      this.pausedCount++;
      socket.pause();
    }
  }

  /** Sends a request and resolves with the peer's response; MQError RPC_TIME_OUT / RPC_SEND_TO_CHANNEL_FAILED. */
  invoke(cmd: RemotingCommand, timeoutMs: number): Promise<RemotingCommand> {
    if (this.isClosed) {
      return Promise.reject(new MQError(ResponseCode.RPC_SEND_TO_CHANNEL_FAILED, `connection to ${this.remoteAddress} is closed`));
    }
    cmd.flag &= ~(RPC_RESPONSE | RPC_ONEWAY);
    return new Promise<RemotingCommand>((resolve, reject) => {
      if (this.pending.has(cmd.opaque)) {
        reject(new MQError(ResponseCode.RPC_SEND_TO_CHANNEL_FAILED, `opaque ${cmd.opaque} is already in flight on ${this.remoteAddress}`));
        return;
      }
      const deadline = Date.now() + timeoutMs;
      this.pending.set(cmd.opaque, new PendingCall(cmd.opaque, timeoutMs, deadline, resolve, reject));
      if (deadline < this.deadlineAt) this.armDeadlineTimer(deadline);
      this.send(cmd);
    });
  }

  private armDeadlineTimer(at: number): void {
    if (this.deadlineTimer !== null) clearTimeout(this.deadlineTimer);
    this.deadlineAt = at;
    this.deadlineTimer = setTimeout(onDeadlineTimer, Math.max(0, at - Date.now()), this);
  }

  private clearDeadlineTimer(): void {
    if (this.deadlineTimer === null) return;
    clearTimeout(this.deadlineTimer);
    this.deadlineTimer = null;
    this.deadlineAt = Infinity;
  }

  /** @internal fails the calls whose deadline has passed and re-arms for the next one. */
  expireDue(): void {
    this.deadlineTimer = null;
    this.deadlineAt = Infinity;
    const now = Date.now();
    let next = Infinity;
    for (const p of this.pending.values()) {
      if (p.deadline <= now) {
        this.pending.delete(p.opaque);
        p.reject(new MQError(ResponseCode.RPC_TIME_OUT, `wait response on the channel <${this.remoteAddress}> timeout, ${p.timeoutMs}(ms)`));
      } else if (p.deadline < next) {
        next = p.deadline;
      }
    }
    if (next !== Infinity && this.closedReason === null) this.armDeadlineTimer(next);
  }

  /** Sends a request that gets no response. Returns false when the connection is closed. */
  invokeOneway(cmd: RemotingCommand): boolean {
    cmd.flag = (cmd.flag & ~RPC_RESPONSE) | RPC_ONEWAY;
    return this.send(cmd);
  }

  // -------------------------------------------------------------------------------------------
  // close

  /**
   * Graceful close: reads no further requests, waits (up to `timeoutMs`) until every request
   * already read has been answered, sends the answers, then ends the connection. A server that
   * stops this way acknowledges nothing it did not answer.
   */
  async drain(timeoutMs: number, reason = 'server shutting down'): Promise<void> {
    if (this.closedReason !== null) return;
    const socket = this.socket;
    socket.pause();
    if (this.inFlight > 0) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, timeoutMs);
        this.onIdle = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.onIdle = null;
      if (this.inFlight > 0) {
        this.owner.log.warn(`closing connection from ${this.remoteAddress} with ${this.inFlight} requests unanswered after ${timeoutMs} ms`);
      }
    }
    if (this.flushScheduled) this.flush();
    if (this.closedReason !== null || socket.destroyed) return;
    this.closeRequested ??= reason;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => socket.destroy(), Math.min(2000, Math.max(100, timeoutMs)));
      socket.once('close', () => {
        clearTimeout(t);
        resolve();
      });
      socket.end();
      // A paused socket never reads the peer's FIN; let it flow (further requests are ignored).
      socket.resume();
    });
  }

  /** Closes the connection; pending calls fail with RPC_SEND_TO_CHANNEL_FAILED. */
  close(reason = 'closed locally'): void {
    if (this.closeRequested === null) this.closeRequested = reason;
    if (this.closedReason === null) this.socket.destroy();
  }

  private onSocketClose(): void {
    if (this.closedReason !== null) return;
    const reason = this.closeRequested ?? 'closed by peer';
    this.closedReason = reason;
    this.closeRequested ??= reason;
    this.clearDeadlineTimer();
    if (this.pending.size > 0) {
      const err = `connection to ${this.remoteAddress} closed (${reason})`;
      for (const p of this.pending.values()) {
        p.reject(new MQError(ResponseCode.RPC_SEND_TO_CHANNEL_FAILED, err));
      }
      this.pending.clear();
    }
    this.owner.connectionClosed(this, reason);
  }
}
