import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { TlsConfigError, applyTlsConfigFile } from '@rocketmq-ts/remoting';
import type { ProxyConfig } from '../config.js';

export interface GrpcCredentials {
  credentials: grpc.ServerCredentials;
  /** For the start-up log. */
  description: string;
}

function read(what: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new TlsConfigError(`cannot read ${what} ${path}: ${(e as Error).message}`);
  }
}

/**
 * Credentials of the gRPC port. gRPC cannot serve TLS and plaintext on one port here, so
 * `tls.server.mode` reads: disabled = plaintext; permissive = TLS when a certificate and key are
 * configured, else plaintext; enforcing = TLS, and a missing certificate is an error. The
 * certificate is `tlsCertPath`/`tlsKeyPath` (RocketMQ's proxy names) or else tls.server.certPath/keyPath.
 */
export function grpcServerCredentials(raw: ProxyConfig): GrpcCredentials {
  const cfg = applyTlsConfigFile(raw);
  const mode = cfg['tls.server.mode'];
  const certPath = cfg.tlsCertPath || cfg['tls.server.certPath'];
  const keyPath = cfg.tlsKeyPath || cfg['tls.server.keyPath'];
  if (mode === 'disabled' || (mode === 'permissive' && (certPath === '' || keyPath === ''))) {
    return { credentials: grpc.ServerCredentials.createInsecure(), description: 'plaintext' };
  }
  if (certPath === '' || keyPath === '') throw new TlsConfigError('tls.server.mode=enforcing needs tlsCertPath and tlsKeyPath');
  const auth = cfg['tls.server.need.client.auth'];
  const trust = cfg['tls.server.trustCertPath'];
  // grpc-js can only require a verified client certificate, or not ask for one.
  const checkClient = auth === 'require';
  if (checkClient && trust === '') throw new TlsConfigError('tls.server.need.client.auth=require on the gRPC port needs tls.server.trustCertPath');
  const credentials = grpc.ServerCredentials.createSsl(
    checkClient ? read('tls.server.trustCertPath', trust) : null,
    [{ cert_chain: read('tlsCertPath', certPath), private_key: read('tlsKeyPath', keyPath) }],
    checkClient,
  );
  return { credentials, description: `TLS (cert ${certPath}${checkClient ? ', client certificates required' : ''})` };
}
