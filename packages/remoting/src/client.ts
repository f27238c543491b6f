import { connect as netConnect } from 'node:net';
import { DEFAULT_MAX_FRAME_LENGTH, MQError, RemotingCommand, ResponseCode, type SerializeType } from '@rocketmq-ts/protocol';
import { RemotingConnection, type ConnectionOwner, type RemotingProbe, type RequestHandler } from './connection.js';
import { createLogger, errorText, type Logger } from './logger.js';
import { connectTls, createTlsClientContext, type TlsClientContext, type TlsClientOptions } from './tls.js';

export interface RemotingClientOptions {
  /** Header serialisation of our requests; unset = whatever each command says (JSON by default). */
  serializeType?: SerializeType;
  /** Limit for opening a connection (default 3000 ms); also bounded by the call's own timeout. */
  connectTimeoutMs?: number;
  /** Close connections idle this long (RocketMQ's clientChannelMaxIdleTimeSeconds, 120 s); 0 = never. */
  clientChannelMaxIdleTimeSeconds?: number;
  maxFrameLength?: number;
  probe?: RemotingProbe;
  /** Log component (default "remoting-client"). */
  name?: string;
  /** Connect with TLS (RocketMQ's useTLS / `tls.enable`); unset = plaintext. Files are read at construction. */
  tls?: TlsClientOptions | undefined;
  /**
   * Runs on every request just before it is written (e.g. ACL signing, which must see the final
   * extFields and body). Unset = nothing runs.
   */
  beforeRequest?: (cmd: RemotingCommand) => void;
}

/**
 * Client side of remoting: one lazily opened connection per address, shared by all calls
 * (concurrent first calls share the connect), opaque correlation, per-call timeouts, and
 * handlers for requests the server sends us (e.g. NOTIFY_CONSUMER_IDS_CHANGED). A closed
 * connection is dropped; the next call to that address opens a new one.
 */
export class RemotingClient implements ConnectionOwner {
  readonly log: Logger;
  readonly probe: RemotingProbe | undefined;
  private readonly beforeRequest: ((cmd: RemotingCommand) => void) | undefined;
  private readonly table = new Map<number, RequestHandler>();
  private readonly conns = new Map<string, RemotingConnection>();
  private readonly connecting = new Map<string, Promise<RemotingConnection>>();
  private closed = false;
  private readonly tls: TlsClientContext | undefined;

  constructor(private readonly options: RemotingClientOptions = {}) {
    this.log = createLogger(options.name ?? 'remoting-client');
    this.probe = options.probe;
    this.tls = options.tls === undefined ? undefined : createTlsClientContext(options.tls);
    this.beforeRequest = options.beforeRequest;
  }

  /** True when this client connects with TLS. */
  get useTLS(): boolean {
    return this.tls !== undefined;
  }

  get handlers(): ReadonlyMap<number, RequestHandler> {
    return this.table;
  }

  /** Handles requests that servers send to this client. */
  registerHandler(code: number, fn: RequestHandler): this {
    this.table.set(code, fn);
    return this;
  }

  /**
   * Readies a request as this client sends it (serialisation, then `beforeRequest`, e.g. signing).
   * invoke and invokeOneway do it; call it before writing a request on a connection directly.
   */
  prepare(cmd: RemotingCommand): void {
    if (this.options.serializeType !== undefined) cmd.serializeType = this.options.serializeType;
    if (this.beforeRequest !== undefined) this.beforeRequest(cmd);
  }

  /** Sends `cmd` to `addr` ("host:port") and resolves with the response. */
  invoke(addr: string, cmd: RemotingCommand, timeoutMs: number): Promise<RemotingCommand> {
    this.prepare(cmd);
    const conn = this.conns.get(addr);
    if (conn !== undefined && !conn.isClosed) return conn.invoke(cmd, timeoutMs);
    return this.invokeAfterConnect(addr, cmd, timeoutMs);
  }

  private async invokeAfterConnect(addr: string, cmd: RemotingCommand, timeoutMs: number): Promise<RemotingCommand> {
    const start = Date.now();
    const conn = await this.connection(addr, timeoutMs);
    const left = timeoutMs - (Date.now() - start);
    if (left <= 0) throw new MQError(ResponseCode.RPC_TIME_OUT, `connecting to ${addr} used up the ${timeoutMs} ms timeout`);
    return conn.invoke(cmd, left);
  }

  /** Sends `cmd` without waiting for (or getting) a response. Resolves once it is queued on the socket. */
  async invokeOneway(addr: string, cmd: RemotingCommand, timeoutMs = 3000): Promise<void> {
    this.prepare(cmd);
    const conn = await this.connection(addr, timeoutMs);
    if (!conn.invokeOneway(cmd)) throw new MQError(ResponseCode.RPC_SEND_TO_CHANNEL_FAILED, `connection to ${addr} is closed`);
  }

  /** The open connection to `addr`, opening it if needed. */
  connection(addr: string, timeoutMs = this.options.connectTimeoutMs ?? 3000): Promise<RemotingConnection> {
    if (this.closed) return Promise.reject(new MQError(ResponseCode.RPC_SEND_TO_CHANNEL_FAILED, 'remoting client is closed'));
    const existing = this.conns.get(addr);
    if (existing !== undefined && !existing.isClosed) return Promise.resolve(existing);
    let p = this.connecting.get(addr);
    if (p === undefined) {
      p = this.open(addr, Math.min(timeoutMs, this.options.connectTimeoutMs ?? 3000));
      this.connecting.set(addr, p);
      const clear = (): void => {
        if (this.connecting.get(addr) === p) this.connecting.delete(addr);
      };
      p.then(clear, clear);
    }
    return p;
  }

  private open(addr: string, timeoutMs: number): Promise<RemotingConnection> {
    const colon = addr.lastIndexOf(':');
    const host = colon > 0 ? addr.slice(0, colon).replace(/^\[|\]$/g, '') : '';
    const port = colon > 0 ? Number(addr.slice(colon + 1)) : NaN;
    if (host === '' || !Number.isInteger(port) || port <= 0 || port > 65535) {
      return Promise.reject(new MQError(ResponseCode.RPC_ADDR_IS_NULL, `bad address "${addr}"`));
    }
    return new Promise((resolve, reject) => {
      const socket = this.tls === undefined ? netConnect({ host, port, noDelay: true }) : connectTls(host, port, this.tls);
      const fail = (why: string): void => {
        clearTimeout(timer);
        socket.removeAllListeners();
        socket.on('error', () => undefined);
        socket.destroy();
        reject(new MQError(ResponseCode.RPC_SEND_TO_CHANNEL_FAILED, `connect to ${addr} failed: ${why}`));
      };
      const timer = setTimeout(() => fail(`timed out after ${timeoutMs} ms`), timeoutMs);
      socket.once('error', (e) => fail(errorText(e)));
      socket.once(this.tls === undefined ? 'connect' : 'secureConnect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        if (this.closed) {
          socket.destroy();
          reject(new MQError(ResponseCode.RPC_SEND_TO_CHANNEL_FAILED, 'remoting client is closed'));
          return;
        }
        const conn = new RemotingConnection(socket, this, {
          maxFrameLength: this.options.maxFrameLength ?? DEFAULT_MAX_FRAME_LENGTH,
          idleTimeoutMs: (this.options.clientChannelMaxIdleTimeSeconds ?? 120) * 1000,
        });
        conn.attachment = addr;
        this.conns.set(addr, conn);
        resolve(conn);
      });
    });
  }

  /** @internal */
  connectionClosed(conn: RemotingConnection, reason: string): void {
    const addr = conn.attachment as string;
    if (this.conns.get(addr) === conn) this.conns.delete(addr);
    if (!this.closed) this.log.debug(`connection to ${addr} closed: ${reason}`);
  }

  /** Closes the connection to one address (pending calls on it fail). */
  closeConnection(addr: string): void {
    this.conns.get(addr)?.close('closed by client');
  }

  /** Closes every connection; pending calls fail with RPC_SEND_TO_CHANNEL_FAILED. */
  close(): void {
    this.closed = true;
    for (const c of [...this.conns.values()]) c.close('client closed');
    this.conns.clear();
  }
}

/** A request command in the client's usual form (convenience for callers and tests). */
export function request(code: number, extFields: Record<string, string | number | boolean> | null = null, body: Buffer | null = null): RemotingCommand {
  return RemotingCommand.request(code, extFields, body);
}
