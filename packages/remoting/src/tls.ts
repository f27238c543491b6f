import { readFileSync } from 'node:fs';
import { isIP, type Socket } from 'node:net';
import { Server as TlsServer, connect as tlsConnect, createSecureContext, type ConnectionOptions, type SecureContextOptions, type TLSSocket } from 'node:tls';
import { errorText, type Logger } from './logger.js';

/**
 * How a remoting server treats TLS (RocketMQ's `tls.server.mode`):
 * - `disabled`: plaintext only; sockets go straight to the frame decoder, which refuses a TLS
 *   hello as a malformed frame.
 * - `permissive`: one port serves both; the first byte of each connection decides (0x16, a TLS
 *   handshake record, means TLS).
 * - `enforcing`: TLS only; a connection whose first byte is not a handshake is closed.
 */
export type TlsServerMode = 'disabled' | 'permissive' | 'enforcing';
export const TLS_SERVER_MODES: readonly TlsServerMode[] = ['disabled', 'permissive', 'enforcing'];

/** Client certificates (RocketMQ's `tls.server.need.client.auth`): not asked for, asked for, or required. */
export type TlsClientAuth = 'none' | 'optional' | 'require';
export const TLS_CLIENT_AUTHS: readonly TlsClientAuth[] = ['none', 'optional', 'require'];

export interface TlsServerOptions {
  mode: TlsServerMode;
  /** PEM certificate chain of the server. */
  certPath?: string | undefined;
  /** PEM private key of the server. */
  keyPath?: string | undefined;
  keyPassword?: string | undefined;
  /** PEM CA bundle that client certificates are checked against (default: Node's roots). */
  trustCertPath?: string | undefined;
  /** Default `none`. */
  needClientAuth?: TlsClientAuth | undefined;
  /** Check presented client certificates against trustCertPath (default true); false takes any certificate. */
  authClient?: boolean | undefined;
  /** A connection must send its first byte and finish the handshake within this (default 10 000 ms). */
  handshakeTimeoutMs?: number | undefined;
}

export interface TlsClientOptions {
  /** PEM CA bundle the server certificate is checked against (default: Node's roots). */
  trustCertPath?: string | undefined;
  /** Our certificate and key, for servers that want a client certificate (mutual TLS). */
  certPath?: string | undefined;
  keyPath?: string | undefined;
  keyPassword?: string | undefined;
  /** Verify the server's certificate chain and name (default true). RocketMQ's `tls.client.authServer`. */
  authServer?: boolean | undefined;
  /** Skip every check of the server (RocketMQ's `tls.test.mode.enable`); for tests only. */
  testMode?: boolean | undefined;
  /** With authServer: also check that the certificate names the host or IP we dialled (default true). */
  checkHostname?: boolean | undefined;
}

/** First byte of a TLS record carrying a handshake message (a ClientHello opens every TLS connection). */
const TLS_HANDSHAKE_RECORD = 0x16;
const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;

export class TlsConfigError extends Error {
  override readonly name = 'TlsConfigError';
}

function readPem(what: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new TlsConfigError(`cannot read ${what} ${path}: ${errorText(e)}`);
  }
}

/** The server's certificate, key and trusted CAs, read and checked; throws TlsConfigError naming what is missing or bad. */
export function readServerCredentials(o: TlsServerOptions): Pick<SecureContextOptions, 'cert' | 'key' | 'passphrase' | 'ca'> {
  if (!o.certPath || !o.keyPath) throw new TlsConfigError(`TLS mode ${o.mode} needs tls.server.certPath and tls.server.keyPath`);
  const creds = {
    cert: readPem('tls.server.certPath', o.certPath),
    key: readPem('tls.server.keyPath', o.keyPath),
    ...(o.keyPassword ? { passphrase: o.keyPassword } : {}),
    ...(o.trustCertPath ? { ca: readPem('tls.server.trustCertPath', o.trustCertPath) } : {}),
  };
  try {
    createSecureContext(creds);
  } catch (e) {
    throw new TlsConfigError(`bad server certificate or key (${o.certPath}, ${o.keyPath}): ${errorText(e)}`);
  }
  return creds;
}

/**
 * Sorts accepted sockets by their first byte and hands each on ready for a RemotingConnection:
 * plaintext sockets as they are (the bytes read are pushed back first), TLS sockets once their
 * handshake is done. Work happens once per connection; traffic afterwards is untouched.
 */
export class TlsAcceptor {
  readonly mode: TlsServerMode;
  private readonly tlsServer: TlsServer;
  private readonly handshakeTimeoutMs: number;
  /** Sockets whose first byte has not arrived yet. */
  private readonly waiting = new Set<Socket>();

  constructor(
    opts: TlsServerOptions,
    private readonly log: Logger,
    private readonly ready: (socket: Socket, secure: boolean) => void,
  ) {
    if (opts.mode === 'disabled') throw new TlsConfigError('TlsAcceptor is not needed when TLS is disabled');
    this.mode = opts.mode;
    this.handshakeTimeoutMs = opts.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
    const auth = opts.needClientAuth ?? 'none';
    const verifyClient = auth !== 'none' && opts.authClient !== false;
    // Never listens: raw sockets are handed to it with emit('connection'), after the peek.
    this.tlsServer = new TlsServer({
      ...readServerCredentials(opts),
      requestCert: auth !== 'none',
      // With `optional` a missing certificate is fine, but one that is presented must be valid.
      rejectUnauthorized: auth === 'require' && verifyClient,
      handshakeTimeout: this.handshakeTimeoutMs,
    });
    this.tlsServer.on('secureConnection', (s: TLSSocket) => {
      const cert = auth === 'none' ? null : s.getPeerCertificate();
      const hasCert = cert !== null && Object.keys(cert).length > 0;
      if (auth === 'require' && !hasCert) return this.refuse(s, 'TLS client sent no certificate (tls.server.need.client.auth=require)');
      if (verifyClient && hasCert && !s.authorized) return this.refuse(s, `TLS client certificate refused: ${String(s.authorizationError)}`);
      this.ready(s, true);
    });
    this.tlsServer.on('tlsClientError', (e: Error, s: TLSSocket) => {
      this.log.warn(`TLS handshake with ${s.remoteAddress ?? '?'}:${s.remotePort ?? 0} failed: ${e.message}`);
      s.destroy();
    });
  }

  private refuse(s: Socket, why: string): void {
    this.log.warn(`closing connection from ${s.remoteAddress ?? '?'}:${s.remotePort ?? 0}: ${why}`);
    s.destroy();
  }

  accept(socket: Socket): void {
    const done = (): void => {
      this.waiting.delete(socket);
      socket.setTimeout(0);
      socket.removeListener('data', onFirst);
      socket.removeListener('timeout', onTimeout);
      socket.removeListener('error', onError);
    };
    const onTimeout = (): void => {
      done();
      socket.destroy();
    };
    const onError = (): void => {
      done();
      socket.destroy();
    };
    const onFirst = (chunk: Buffer): void => {
      done();
      socket.pause();
      socket.unshift(chunk);
      if (chunk[0] === TLS_HANDSHAKE_RECORD) {
        // The TLS socket reads the pushed-back hello from the raw socket's buffer.
        this.tlsServer.emit('connection', socket);
      } else if (this.mode === 'enforcing') {
        this.refuse(socket, 'plaintext connection refused (tls.server.mode=enforcing)');
      } else {
        this.ready(socket, false);
        socket.resume();
      }
    };
    this.waiting.add(socket);
    socket.setTimeout(this.handshakeTimeoutMs);
    socket.on('timeout', onTimeout);
    socket.on('error', onError);
    socket.on('data', onFirst);
  }

  /** Closes connections still waiting for their first byte (the listener is closing). */
  closeWaiting(): void {
    for (const s of this.waiting) s.destroy();
    this.waiting.clear();
  }
}

/** What `tls.connect` needs, files read once (a client reuses it for every connection). */
export interface TlsClientContext {
  readonly options: Readonly<ConnectionOptions>;
}

export function createTlsClientContext(o: TlsClientOptions): TlsClientContext {
  const verify = o.testMode !== true && o.authServer !== false;
  const options: ConnectionOptions = {
    rejectUnauthorized: verify,
    ...(o.trustCertPath ? { ca: readPem('tls.client.trustCertPath', o.trustCertPath) } : {}),
    ...(o.certPath ? { cert: readPem('tls.client.certPath', o.certPath) } : {}),
    ...(o.keyPath ? { key: readPem('tls.client.keyPath', o.keyPath) } : {}),
    ...(o.keyPassword ? { passphrase: o.keyPassword } : {}),
    ...(verify && o.checkHostname === false ? { checkServerIdentity: () => undefined } : {}),
  };
  try {
    // Fail now on a bad certificate or key rather than at the first connect.
    createSecureContext({ ca: options.ca, cert: options.cert, key: options.key, passphrase: options.passphrase });
  } catch (e) {
    throw new TlsConfigError(`bad client TLS files: ${errorText(e)}`);
  }
  return { options };
}

/** Opens a TLS connection; the socket emits `secureConnect` once it is usable. */
export function connectTls(host: string, port: number, ctx: TlsClientContext): TLSSocket {
  return tlsConnect({ ...ctx.options, host, port, ...(isIP(host) === 0 ? { servername: host } : {}) });
}
