import { createServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { Server, type CustomTransportStrategy } from '@nestjs/microservices';
import { DEFAULT_MAX_FRAME_LENGTH } from '@rocketmq-ts/protocol';
import { RemotingConnection, type ConnectionOwner, type RemotingProbe, type RequestGuard, type RequestHandler } from '../connection.js';
import { createLogger, type Logger } from '../logger.js';
import { TlsAcceptor, type TlsServerMode, type TlsServerOptions } from '../tls.js';

export const REMOTING_TRANSPORT = Symbol('ROCKETMQ_REMOTING');

export interface RemotingServerOptions {
  port: number;
  /** Default 0.0.0.0. */
  host?: string;
  /** Connections without traffic for this long are closed (RocketMQ default 120 s); 0 = never. */
  serverChannelMaxIdleTimeSeconds?: number;
  /** Largest frame accepted, length field excluded (default 16 MiB). */
  maxFrameLength?: number;
  /** Stop reading a connection while more than this many bytes of replies to it are queued (default 16 MiB). */
  writeBufferHighWaterMark?: number;
  probe?: RemotingProbe;
  /** Log component name (default "remoting"). */
  name?: string;
  /** Handlers found in the Nest app (see RemotingHandlerExplorer); read once, at listen time. */
  handlerSource?: () => Iterable<readonly [number, RequestHandler]>;
  /** Runs before each socket write of replies; false closes that connection instead (see ConnectionOwner). */
  beforeOutput?: () => boolean;
  /** Checks each request before dispatch (ACL); unset = none. Can be replaced later with setRequestGuard. */
  requestGuard?: RequestGuard;
  /** On close, how long connections may take to answer the requests they already read (default 5000 ms). */
  drainTimeoutMs?: number;
  /** TLS on this port (see TlsServerMode); unset or mode `disabled` = plaintext, sockets untouched. */
  tls?: TlsServerOptions | undefined;
}

export type RemotingServerEvents = {
  connect: (conn: RemotingConnection) => void;
  close: (conn: RemotingConnection, reason: string) => void;
};

/**
 * RocketMQ remoting over TCP as a Nest custom transport. At listen time it builds one table
 * `request code → handler`: handlers registered with `registerHandler`, then `@RemotingHandler`
 * methods from `handlerSource` (called directly), then any other numeric `@MessagePattern`
 * (through Nest's handler proxy, slower, as a fallback). Per request: decode, look up, call,
 * encode the reply in the request's serialisation.
 */
export class RemotingServer extends Server<RemotingServerEvents> implements CustomTransportStrategy, ConnectionOwner {
  override transportId = REMOTING_TRANSPORT;
  readonly log: Logger;
  readonly probe: RemotingProbe | undefined;
  readonly beforeOutput: (() => boolean) | undefined;
  requestGuard: RequestGuard | undefined;
  private table = new Map<number, RequestHandler>();
  private readonly explicit = new Map<number, RequestHandler>();
  private readonly connections = new Set<RemotingConnection>();
  private readonly connectListeners: Array<(conn: RemotingConnection) => void> = [];
  private readonly closeListeners: Array<(conn: RemotingConnection, reason: string) => void> = [];
  private server: NetServer | null = null;
  private handlerSource: RemotingServerOptions['handlerSource'];
  private readonly idleTimeoutMs: number;
  private readonly maxFrameLength: number;
  private readonly tlsAcceptor: TlsAcceptor | null;

  constructor(private readonly options: RemotingServerOptions) {
    super();
    this.log = createLogger(options.name ?? 'remoting');
    this.probe = options.probe;
    this.beforeOutput = options.beforeOutput;
    this.requestGuard = options.requestGuard;
    this.handlerSource = options.handlerSource;
    this.idleTimeoutMs = (options.serverChannelMaxIdleTimeSeconds ?? 120) * 1000;
    this.maxFrameLength = options.maxFrameLength ?? DEFAULT_MAX_FRAME_LENGTH;
    // Reads the certificate files now: a server with bad TLS files fails at construction.
    this.tlsAcceptor =
      options.tls === undefined || options.tls.mode === 'disabled' ? null : new TlsAcceptor(options.tls, this.log, (s) => this.connectionReady(s));
  }

  /** TLS mode in effect on the port. */
  get tlsMode(): TlsServerMode {
    return this.tlsAcceptor?.mode ?? 'disabled';
  }

  /** The table read by connections; built at listen time. */
  get handlers(): ReadonlyMap<number, RequestHandler> {
    return this.table;
  }

  /** Registers a handler without Nest (tests, plain TypeScript users). Wins over discovered ones. */
  registerHandler(code: number, fn: RequestHandler): this {
    this.explicit.set(code, fn);
    if (this.server !== null) this.table.set(code, fn);
    return this;
  }

  /** Sets where Nest-discovered handlers come from; must be called before listen. */
  useHandlerSource(source: () => Iterable<readonly [number, RequestHandler]>): this {
    this.handlerSource = source;
    return this;
  }

  private buildTable(): Map<number, RequestHandler> {
    const table = new Map<number, RequestHandler>(this.explicit);
    if (this.handlerSource) {
      for (const [code, fn] of this.handlerSource()) if (!table.has(code)) table.set(code, fn);
    }
    for (const [pattern, handler] of this.messageHandlers) {
      const code = Number(pattern);
      if (!Number.isInteger(code) || table.has(code) || handler.isEventHandler) continue;
      // Nest's proxy: (data, ctx) → Promise<Observable | value>; the connection settles both.
      table.set(code, (cmd, conn) => handler(cmd, conn) as ReturnType<RequestHandler>);
    }
    return table;
  }

  listen(callback: (err?: unknown, ...rest: unknown[]) => void): void {
    try {
      this.table = this.buildTable();
    } catch (e) {
      callback(e);
      return;
    }
    const host = this.options.host ?? '0.0.0.0';
    const acceptor = this.tlsAcceptor;
    const server = createServer({ noDelay: true }, acceptor === null ? (socket) => this.connectionReady(socket) : (socket) => acceptor.accept(socket));
    const onError = (e: Error): void => {
      server.removeListener('listening', onListening);
      this.server = null;
      callback(e);
    };
    const onListening = (): void => {
      server.removeListener('error', onError);
      server.on('error', (e) => this.log.error('listener error', e));
      this.log.info(`remoting listening on ${host}:${this.port} (TLS ${this.tlsMode}) with ${this.table.size} request codes`);
      callback();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    this.server = server;
    server.listen(this.options.port, host);
  }

  /** Promise form of listen, for use without Nest. */
  start(): Promise<void> {
    return new Promise((resolve, reject) => this.listen((err) => (err ? reject(err) : resolve())));
  }

  /** The bound port (useful with port 0). */
  get port(): number {
    const a = this.server?.address();
    return a !== null && typeof a === 'object' ? (a as AddressInfo).port : this.options.port;
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  /** Live connections (a snapshot). */
  getConnections(): RemotingConnection[] {
    return [...this.connections];
  }

  private connectionReady(socket: Socket): void {
    const conn = new RemotingConnection(socket, this, {
      maxFrameLength: this.maxFrameLength,
      idleTimeoutMs: this.idleTimeoutMs,
      ...(this.options.writeBufferHighWaterMark !== undefined ? { writeBufferHighWaterMark: this.options.writeBufferHighWaterMark } : {}),
    });
    this.connections.add(conn);
    for (const l of this.connectListeners) l(conn);
  }

  /** @internal called by connections */
  connectionClosed(conn: RemotingConnection, reason: string): void {
    if (!this.connections.delete(conn)) return;
    for (const l of this.closeListeners) {
      try {
        l(conn, reason);
      } catch (e) {
        this.log.error('connection close listener failed', e);
      }
    }
  }

  /** Subscribes to connection events: `connect` (conn) and `close` (conn, reason). */
  on<K extends keyof RemotingServerEvents>(event: K, callback: RemotingServerEvents[K]): this {
    if (event === 'connect') this.connectListeners.push(callback as RemotingServerEvents['connect']);
    else if (event === 'close') this.closeListeners.push(callback as RemotingServerEvents['close']);
    else throw new Error(`RemotingServer has no event ${String(event)}`);
    return this;
  }

  unwrap<T>(): T {
    return this.server as T;
  }

  /**
   * Stops accepting connections, lets every connection answer the requests it already read
   * (bounded by drainTimeoutMs), then closes them: nothing stored goes unanswered.
   */
  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    this.tlsAcceptor?.closeWaiting();
    const closed = server === null ? Promise.resolve() : new Promise<void>((resolve) => server.close(() => resolve()));
    const conns = [...this.connections];
    if (conns.length > 0) this.log.info(`closing: answering what ${conns.length} connections already sent`);
    await Promise.all(conns.map((c) => c.drain(this.options.drainTimeoutMs ?? 5000)));
    await closed;
  }
}
