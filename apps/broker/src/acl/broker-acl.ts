import { ConfigError } from '@rocketmq-ts/common';
import { signRequest, type RemotingCommand, type SessionCredentials } from '@rocketmq-ts/protocol';
import { tlsClientOptionsFrom, type Logger, type RemotingClientOptions, type RequestGuard } from '@rocketmq-ts/remoting';
import {
  AclConfigError,
  AclFile,
  BROKER_ADMIN_CODES,
  PlainAclValidator,
  aclRequestGuard,
  parseInnerCredentials,
  resolveAclFilePath,
} from '@rocketmq-ts/remoting/acl';
import type { BrokerConfig } from '../config.js';

/**
 * The broker's own account for calls to name servers and (as a slave) its master, from
 * `innerClientAuthenticationCredentials`; null when not set. Throws ConfigError when unreadable.
 */
export function innerCredentials(c: Pick<BrokerConfig, 'innerClientAuthenticationCredentials'>): SessionCredentials | null {
  try {
    return parseInnerCredentials(c.innerClientAuthenticationCredentials) ?? null;
  } catch (e) {
    if (e instanceof AclConfigError) throw new ConfigError(e.message);
    throw e;
  }
}

/**
 * Options for the broker's remoting clients (to name servers and, on a slave, to its master): TLS
 * per tls.enable / tls.client.*, and every request signed when the broker has an account.
 */
export function brokerClientOptions(c: BrokerConfig, name: string): RemotingClientOptions {
  const creds = innerCredentials(c);
  const tls = tlsClientOptionsFrom(c);
  if (creds === null) return { name, tls };
  return { name, tls, beforeRequest: (cmd: RemotingCommand) => signRequest(cmd, creds) };
}

/** With aclEnable: the file (watched) and the guard for the remoting server; null without. */
export function startBrokerAcl(c: BrokerConfig, log: Logger): { file: AclFile; guard: RequestGuard } | null {
  if (!c.aclEnable) return null;
  const path = resolveAclFilePath(c.rocketmqHome, c.aclFilePath);
  const file = new AclFile(path, log).watch();
  log.info(`ACL enabled: ${path} (${file.rules.accounts.size} accounts), reloaded when it changes`);
  const validator = new PlainAclValidator(() => file.rules, BROKER_ADMIN_CODES);
  return { file, guard: aclRequestGuard(validator, log) };
}
