import { hostname, networkInterfaces } from 'node:os';
import { tlsClientSettingsFromEnv, type TlsClientOptions } from '@rocketmq-ts/remoting';
import type { SessionCredentials } from '@rocketmq-ts/protocol';
import type { ClientLogger } from './logger.js';

/**
 * Options every client (producer, push consumer, lite pull consumer, admin) accepts. Defaults are
 * named once in CLIENT_DEFAULTS, with their unit in the name, and follow RocketMQ's ClientConfig.
 */
export interface ClientOptions {
  /** Name servers: "host:port;host:port" or a list. Falls back to the NAMESRV_ADDR environment variable. */
  namesrvAddr?: string | readonly string[];
  /**
   * Clients with the same instanceName (and IP) share one connection core (route cache,
   * heartbeats, sockets). Default: unique per client object, as RocketMQ 5 does.
   */
  instanceName?: string;
  /** Address written into the clientId and message ids; default: the first non-internal IPv4. */
  clientIP?: string;
  unitName?: string;
  /** ms between route refreshes of every topic in use. */
  pollNameServerIntervalMs?: number;
  /** ms between heartbeats to every broker. */
  heartbeatBrokerIntervalMs?: number;
  /** ms between consumer offset commits to the broker (or the local file when broadcasting). */
  persistConsumerOffsetIntervalMs?: number;
  /** Timeout of ordinary requests to name servers and brokers, in ms. */
  mqClientApiTimeoutMs?: number;
  /** Header encoding of our requests: JSON (default, understood everywhere) or ROCKETMQ (binary). */
  serializeType?: 'JSON' | 'ROCKETMQ';
  /** LanguageCode put in requests. OTHER and JAVA are safe with every broker version. */
  language?: 'OTHER' | 'JAVA';
  /** Structured log sink; default: one line per event on stdout/stderr, level from ROCKETMQ_LOG_LEVEL. */
  logger?: ClientLogger;
  /**
   * Connect to name servers and brokers with TLS (RocketMQ's ClientConfig.useTLS). Unset: TLS when
   * `tls` is given, else as the environment says (ROCKETMQ_TLS_ENABLE=true, like Java's -Dtls.enable).
   */
  useTLS?: boolean;
  /**
   * CA, client certificate and verification settings. Default: verify the server against Node's
   * roots, or ROCKETMQ_TLS_CLIENT_TRUST_CERT_PATH / the other ROCKETMQ_TLS_CLIENT_* variables.
   */
  tls?: TlsClientOptions;
  /**
   * ACL 1.0 account: with accessKey and secretKey every request is signed (extFields AccessKey,
   * Signature). Fall back to ROCKETMQ_ACCESS_KEY / ROCKETMQ_SECRET_KEY; without both nothing is signed.
   */
  accessKey?: string;
  secretKey?: string;
  /** Sent as extField SecurityToken when set (falls back to ROCKETMQ_SECURITY_TOKEN). */
  securityToken?: string;
}

/** Environment variables read when the options carry no keys. */
export const ACL_ENV = {
  accessKey: 'ROCKETMQ_ACCESS_KEY',
  secretKey: 'ROCKETMQ_SECRET_KEY',
  securityToken: 'ROCKETMQ_SECURITY_TOKEN',
} as const;

export const CLIENT_DEFAULTS = {
  pollNameServerIntervalMs: 30_000,
  heartbeatBrokerIntervalMs: 30_000,
  persistConsumerOffsetIntervalMs: 5_000,
  mqClientApiTimeoutMs: 3_000,
  serializeType: 'JSON' as 'JSON' | 'ROCKETMQ',
  language: 'OTHER' as 'OTHER' | 'JAVA',
} as const;

/** Options with every default applied. */
export interface ResolvedClientOptions {
  namesrvAddrs: string[];
  instanceName: string;
  clientIP: string;
  unitName: string | undefined;
  pollNameServerIntervalMs: number;
  heartbeatBrokerIntervalMs: number;
  persistConsumerOffsetIntervalMs: number;
  mqClientApiTimeoutMs: number;
  serializeType: 'JSON' | 'ROCKETMQ';
  language: 'OTHER' | 'JAVA';
  logger: ClientLogger | undefined;
  /** TLS settings of every connection; undefined = plaintext. */
  tls: TlsClientOptions | undefined;
  /** Set when requests are signed (ACL). */
  credentials: SessionCredentials | undefined;
}

let instanceCounter = 0;

export function parseNamesrvAddr(v: string | readonly string[] | undefined): string[] {
  const raw = v ?? process.env['NAMESRV_ADDR'] ?? '';
  const list = typeof raw === 'string' ? raw.split(/[;,]/) : [...raw];
  return list.map((s) => s.trim()).filter((s) => s !== '');
}

export function resolveClientOptions(o: ClientOptions): ResolvedClientOptions {
  return {
    namesrvAddrs: parseNamesrvAddr(o.namesrvAddr),
    instanceName: o.instanceName ?? `${process.pid}#${++instanceCounter}#${process.hrtime.bigint()}`,
    clientIP: o.clientIP ?? localIPv4(),
    unitName: o.unitName,
    ...withDefaults(CLIENT_DEFAULTS, o),
    logger: o.logger,
    tls: resolveTls(o),
    credentials: resolveCredentials(o),
  };
}

/** Explicit options win; the environment fills in what they leave open. */
function resolveTls(o: ClientOptions): TlsClientOptions | undefined {
  if (o.useTLS === false) return undefined;
  const env = tlsClientSettingsFromEnv(process.env);
  if (o.useTLS === undefined && o.tls === undefined && !env.enabled) return undefined;
  return { ...env.options, ...definedOnly(o.tls ?? {}) };
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** The options' keys, else the environment's; undefined unless both accessKey and secretKey are there. */
export function resolveCredentials(
  o: Pick<ClientOptions, 'accessKey' | 'secretKey' | 'securityToken'>,
  env: Record<string, string | undefined> = process.env,
): SessionCredentials | undefined {
  const accessKey = o.accessKey ?? env[ACL_ENV.accessKey];
  const secretKey = o.secretKey ?? env[ACL_ENV.secretKey];
  if (accessKey === undefined || accessKey === '' || secretKey === undefined || secretKey === '') return undefined;
  const securityToken = o.securityToken ?? env[ACL_ENV.securityToken];
  return { accessKey, secretKey, securityToken: securityToken === '' ? undefined : securityToken };
}

/** `<ip>@<instanceName>[@<unitName>]`, as RocketMQ builds it. */
export function buildClientId(o: ResolvedClientOptions): string {
  return `${o.clientIP}@${o.instanceName}${o.unitName ? '@' + o.unitName : ''}`;
}

let cachedIp: string | undefined;
export function localIPv4(): string {
  if (cachedIp !== undefined) return cachedIp;
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) {
      if (a.family === 'IPv4' && !a.internal) return (cachedIp = a.address);
    }
  }
  return (cachedIp = '127.0.0.1');
}

export function localHostName(): string {
  return hostname();
}

/** A defaults object's type with literal types widened (so options can override them). */
export type Widen<T> = { -readonly [K in keyof T]: T[K] extends number ? number : T[K] extends boolean ? boolean : T[K] };

/** `defaults` with each of its keys taken from `given` where the caller set it (not undefined). */
export function withDefaults<D extends object>(defaults: D, given: { readonly [K in keyof D]?: Widen<D>[K] | undefined }): Widen<D> {
  const out = { ...defaults } as Widen<D>;
  for (const k of Object.keys(defaults) as (keyof D)[]) {
    const v = given[k];
    if (v !== undefined) out[k] = v as Widen<D>[keyof D];
  }
  return out;
}
