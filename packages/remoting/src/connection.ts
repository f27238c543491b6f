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
} from '@rocketmq-ts/protocol';
import { errorText, type Logger } from './logger.js';

/** What a request handler may return: a reply, or null for "no reply now" (e.g. long polling). */
export type HandlerResult = RemotingCommand | null | undefined | PromiseLike<RemotingCommand | null | undefined> | ObservableLike;

/** Accepted only as a fallback (Nest's own handler proxies resolve to Observables). */
export interface ObservableLike {
  subscribe(observer: { next?: (v: unknown) => void; error?: (e: unknown) => void; complete?: () => void }): unknown;
}

export type RequestHandler = (cmd: RemotingCommand, conn: RemotingConnection) => HandlerResult;

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
  connectionClosed(conn: RemotingConnection, reason: string): void;
}

export interface ConnectionOptions {
  maxFrameLength?: number;
  /** Close after this long without traffic in either direction; 0 = never. */
  idleTimeoutMs?: number;
}

/** Stop reading from a peer while this much of our output to it is still queued. */
const OUTPUT_HIGH_WATER = 16 * 1024 * 1024;

let nextConnectionId = 1;

class PendingCall {
  timer: NodeJS.Timeout | undefined;
  constructor(
    readonly conn: RemotingConnection,
    readonly opaque: number,
    readonly timeoutMs: number,
    readonly resolve: (r: RemotingCommand) => void,
    readonly reject: (e: Error) => void,
  ) {}
}

function onPendingTimeout(p: PendingCall): void {
  p.conn.expirePending(p);
}

function uncork(conn: RemotingConnection): void {
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
 * `invoke` calls by opaque. Writes made in the same tick are corked and leave in one writev.
 */
export class RemotingConnection {
  readonly id = nextConnectionId++;
  /** "ip:port" of the peer. */
  readonly remoteAddress: string;
  /** Free slot for the owner (e.g. which broker or client this is). */
  attachment: unknown = undefined;
  private readonly decoder: FrameDecoder;
  private readonly pending = new Map<number, PendingCall>();
  private corked = false;
  private pausedForOutput = false;
  private closedReason: string | null = null;
  private closeRequested: string | null = null;

  constructor(
    readonly socket: Socket,
    private readonly owner: ConnectionOwner,
    opts: ConnectionOptions = {},
  ) {
    this.remoteAddress = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`;
    this.decoder = new FrameDecoder(opts.maxFrameLength ?? DEFAULT_MAX_FRAME_LENGTH);
    this.onFrame = this.onFrame.bind(this);
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

  private onData(chunk: Buffer): void {
    try {
      this.decoder.push(chunk, this.onFrame);
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
    clearTimeout(p.timer);
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
      void this.settle(cmd, r, t0);
    } else if (isObservableLike(r)) {
      this.settleObservable(cmd, r, t0);
    } else {
      this.replyError(cmd, new Error(`handler for request code ${cmd.code} returned ${typeof r}`), t0);
    }
  }

  private async settle(cmd: RemotingCommand, p: PromiseLike<unknown>, t0: number): Promise<void> {
    let v: unknown;
    try {
      v = await p;
    } catch (e) {
      this.replyError(cmd, e, t0);
      return;
    }
    if (isObservableLike(v)) this.settleObservable(cmd, v, t0);
    else this.settleValue(cmd, v, t0);
  }

  private settleObservable(cmd: RemotingCommand, o: ObservableLike, t0: number): void {
    let last: unknown = null;
    o.subscribe({
      next: (v) => (last = v),
      error: (e) => this.replyError(cmd, e, t0),
      complete: () => this.settleValue(cmd, last, t0),
    });
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
    } else if (e instanceof HeaderError) {
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
   * Writes one command. The body goes out as its own buffer (never copied); `bodyParts`, when
   * given, replace `cmd.body` (e.g. message records sliced from the store). Returns false when
   * the connection is closed.
   */
  send(cmd: RemotingCommand, bodyParts?: readonly Buffer[]): boolean {
    if (this.closedReason !== null || this.closeRequested !== null) return false;
    const socket = this.socket;
    let bodyLen = 0;
    if (bodyParts !== undefined) for (let i = 0; i < bodyParts.length; i++) bodyLen += bodyParts[i]!.length;
    else if (cmd.body !== null) bodyLen = cmd.body.length;
    // ROCKETMQ headers carry the code in 16 bits: codes beyond that must travel as JSON.
    if (cmd.serializeType === SerializeType.ROCKETMQ && (cmd.code > 32767 || cmd.code < -32768)) cmd.serializeType = SerializeType.JSON;
    const prefix = encodeCommandPrefix(cmd, bodyLen);
    if (!this.corked) {
      this.corked = true;
      socket.cork();
      process.nextTick(uncork, this);
    }
    socket.write(prefix);
    if (bodyParts !== undefined) {
      for (let i = 0; i < bodyParts.length; i++) if (bodyParts[i]!.length > 0) socket.write(bodyParts[i]!);
    } else if (bodyLen > 0) socket.write(cmd.body!);
    if (!this.pausedForOutput && socket.writableLength > OUTPUT_HIGH_WATER) {
      // The peer does not read its replies: stop reading its requests until it catches up.
      this.pausedForOutput = true;
      socket.pause();
    }
    return true;
  }

  /** @internal uncorks the tick's writes. */
  flush(): void {
    this.corked = false;
    if (!this.socket.destroyed) this.socket.uncork();
  }

  /** Sends a request and resolves with the peer's response; MQError RPC_TIME_OUT / RPC_SEND_TO_CHANNEL_FAILED. */
  invoke(cmd: RemotingCommand, timeoutMs: number): Promise<RemotingCommand> {
    if (this.isClosed) {
      return Promise.reject(new MQError(ResponseCode.RPC_SEND_TO_CHANNEL_FAILED, `connection to ${this.remoteAddress} is closed`));
    }
    cmd.flag &= ~(RPC_RESPONSE | RPC_ONEWAY);
    return new Promise<RemotingCommand>((resolve, reject) => {
      const p = new PendingCall(this, cmd.opaque, timeoutMs, resolve, reject);
      const clash = this.pending.get(cmd.opaque);
      if (clash !== undefined) {
        reject(new MQError(ResponseCode.RPC_SEND_TO_CHANNEL_FAILED, `opaque ${cmd.opaque} is already in flight on ${this.remoteAddress}`));
        return;
      }
      this.pending.set(cmd.opaque, p);
      p.timer = setTimeout(onPendingTimeout, timeoutMs, p);
      this.send(cmd);
    });
  }

  /** Sends a request that gets no response. Returns false when the connection is closed. */
  invokeOneway(cmd: RemotingCommand): boolean {
    cmd.flag = (cmd.flag & ~RPC_RESPONSE) | RPC_ONEWAY;
    return this.send(cmd);
  }

  /** @internal */
  expirePending(p: PendingCall): void {
    if (this.pending.get(p.opaque) !== p) return;
    this.pending.delete(p.opaque);
    p.reject(new MQError(ResponseCode.RPC_TIME_OUT, `wait response on the channel <${this.remoteAddress}> timeout, ${p.timeoutMs}(ms)`));
  }

  // -------------------------------------------------------------------------------------------
  // close

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
    if (this.pending.size > 0) {
      const err = `connection to ${this.remoteAddress} closed (${reason})`;
      for (const p of this.pending.values()) {
        clearTimeout(p.timer);
        p.reject(new MQError(ResponseCode.RPC_SEND_TO_CHANNEL_FAILED, err));
      }
      this.pending.clear();
    }
    this.owner.connectionClosed(this, reason);
  }
}
