import { readFileSync } from 'node:fs';
import { ConfigError, coerceConfigValue, loadConfig, parseProperties, type ConfigOf } from '@rocketmq-ts/common';
import { TLS_CLIENT_AUTHS, TLS_SERVER_MODES, type TlsClientAuth, type TlsClientOptions, type TlsServerMode, type TlsServerOptions } from './tls.js';

/**
 * TLS properties under RocketMQ's own names (its `-D` system properties and tls.properties), so
 * they can sit in broker.conf / namesrv.conf, be given as `--tls.server.mode=enforcing`, or come
 * from the environment as `ROCKETMQ_TLS_SERVER_MODE`, `ROCKETMQ_TLS_SERVER_CERT_PATH`, ...
 * Differences from RocketMQ, on purpose: verification is on by default (`tls.client.authServer`,
 * `tls.server.authClient`, `tls.test.mode.enable=false`), and a permissive server without a
 * certificate serves plaintext only instead of making up a self-signed certificate.
 */
export const TLS_CONFIG_SCHEMA = {
  'tls.server.mode': {
    type: 'enum',
    default: 'permissive',
    values: TLS_SERVER_MODES,
    description: 'disabled | permissive (TLS and plaintext on one port; TLS needs certPath and keyPath) | enforcing (TLS only)',
  },
  'tls.config.file': { type: 'string', default: '', description: 'properties file with tls.* settings; fills in what is not set elsewhere' },
  'tls.test.mode.enable': { type: 'bool', default: false, description: 'skip certificate verification (both directions); tests only' },
  'tls.server.certPath': { type: 'string', default: '', description: 'PEM certificate chain of the server' },
  'tls.server.keyPath': { type: 'string', default: '', description: 'PEM private key of the server' },
  'tls.server.keyPassword': { type: 'string', default: '', description: 'password of tls.server.keyPath, if encrypted' },
  'tls.server.need.client.auth': { type: 'enum', default: 'none', values: TLS_CLIENT_AUTHS, description: 'client certificates: none | optional | require' },
  'tls.server.authClient': { type: 'bool', default: true, description: 'check client certificates against tls.server.trustCertPath' },
  'tls.server.trustCertPath': { type: 'string', default: '', description: 'PEM CAs for client certificates (empty = the system roots)' },
  'tls.enable': { type: 'bool', default: false, description: "this process's own connections (e.g. broker to name server) use TLS" },
  'tls.client.certPath': { type: 'string', default: '', description: 'PEM client certificate, for servers that require one' },
  'tls.client.keyPath': { type: 'string', default: '', description: 'PEM private key of tls.client.certPath' },
  'tls.client.keyPassword': { type: 'string', default: '', description: 'password of tls.client.keyPath, if encrypted' },
  'tls.client.authServer': { type: 'bool', default: true, description: "verify the server's certificate" },
  'tls.client.trustCertPath': { type: 'string', default: '', description: 'PEM CAs for server certificates (empty = the system roots)' },
  'tls.client.checkHostname': { type: 'bool', default: true, description: 'the server certificate must name the host or IP dialled' },
} as const;

export type TlsConfig = ConfigOf<typeof TLS_CONFIG_SCHEMA>;

const nonEmpty = (s: string): string | undefined => (s === '' ? undefined : s);

/**
 * `config` with the values of its `tls.config.file` filled in where `config` still has the
 * default (settings given in the conf file, environment or command line win over the TLS file).
 */
export function applyTlsConfigFile<C extends TlsConfig>(config: C): C {
  const file = config['tls.config.file'];
  if (file === '') return config;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read tls.config.file ${file}: ${(e as Error).message}`);
  }
  const out: Record<string, string | number | boolean> = { ...config };
  for (const [k, raw] of parseProperties(text)) {
    if (!Object.hasOwn(TLS_CONFIG_SCHEMA, k)) throw new ConfigError(`${file}: unknown TLS property "${k}"`);
    const field = TLS_CONFIG_SCHEMA[k as keyof typeof TLS_CONFIG_SCHEMA];
    if (k === 'tls.config.file' || out[k] !== field.default) continue;
    out[k] = coerceConfigValue(k, field, raw);
  }
  return out as C;
}

/**
 * The remoting server's TLS options. A permissive server without certificate and key serves
 * plaintext only (`disabled`), so TLS costs nothing until it is configured; enforcing without them
 * is a configuration error.
 */
export function tlsServerOptionsFrom(raw: TlsConfig): TlsServerOptions {
  const c = applyTlsConfigFile(raw);
  const certPath = nonEmpty(c['tls.server.certPath']);
  const keyPath = nonEmpty(c['tls.server.keyPath']);
  let mode = c['tls.server.mode'] as TlsServerMode;
  if (mode === 'permissive' && (certPath === undefined || keyPath === undefined)) mode = 'disabled';
  if (mode === 'enforcing' && (certPath === undefined || keyPath === undefined)) {
    throw new ConfigError('tls.server.mode=enforcing needs tls.server.certPath and tls.server.keyPath');
  }
  return {
    mode,
    certPath,
    keyPath,
    keyPassword: nonEmpty(c['tls.server.keyPassword']),
    trustCertPath: nonEmpty(c['tls.server.trustCertPath']),
    needClientAuth: c['tls.server.need.client.auth'] as TlsClientAuth,
    authClient: c['tls.server.authClient'] && !c['tls.test.mode.enable'],
  };
}

/** TLS options for this process's remoting clients; undefined unless `tls.enable=true`. */
export function tlsClientOptionsFrom(raw: TlsConfig): TlsClientOptions | undefined {
  const c = applyTlsConfigFile(raw);
  if (!c['tls.enable']) return undefined;
  return {
    trustCertPath: nonEmpty(c['tls.client.trustCertPath']),
    certPath: nonEmpty(c['tls.client.certPath']),
    keyPath: nonEmpty(c['tls.client.keyPath']),
    keyPassword: nonEmpty(c['tls.client.keyPassword']),
    authServer: c['tls.client.authServer'],
    testMode: c['tls.test.mode.enable'],
    checkHostname: c['tls.client.checkHostname'],
  };
}

/**
 * Client TLS settings from the environment (`ROCKETMQ_TLS_ENABLE=true`, `ROCKETMQ_TLS_CLIENT_TRUST_CERT_PATH`,
 * `ROCKETMQ_TLS_CONFIG_FILE`, ...): what the SDK and mqadmin use where their options say nothing.
 * `enabled` is what tls.enable says; `options` are the settings whether or not it is on.
 */
export function tlsClientSettingsFromEnv(env: Record<string, string | undefined> = process.env): { enabled: boolean; options: TlsClientOptions } {
  const c = applyTlsConfigFile(loadConfig(TLS_CONFIG_SCHEMA, { env }).config);
  return { enabled: c['tls.enable'], options: tlsClientOptionsFrom({ ...c, 'tls.enable': true })! };
}

/** A one-line description for start-up logs (no passwords). */
export function describeTls(server: TlsServerOptions, ...client: [outgoing: TlsClientOptions | undefined] | []): string {
  const s =
    server.mode === 'disabled'
      ? 'TLS server mode disabled'
      : `TLS server mode ${server.mode} (cert ${server.certPath ?? '?'}, client auth ${server.needClientAuth ?? 'none'})`;
  return client.length === 0 ? s : `${s}; outgoing connections ${client[0] === undefined ? 'plaintext' : 'TLS'}`;
}

/** `config` with TLS key passwords masked, for what GET_BROKER_CONFIG / GET_NAMESRV_CONFIG return. */
export function hideTlsSecrets<C extends object>(config: C): C {
  const out = { ...config } as Record<string, unknown>;
  for (const k of ['tls.server.keyPassword', 'tls.client.keyPassword']) if (typeof out[k] === 'string' && out[k] !== '') out[k] = '******';
  return out as C;
}
