import { MQAdmin } from '@rocketmq-ts/admin';
import { createLogger } from '@rocketmq-ts/remoting';
import type { DashboardConfig } from '../config.js';
import { SessionStore } from './sessions.js';

const log = createLogger('dashboard');

/**
 * How name servers and brokers word an ACL refusal (SYSTEM_ERROR whose remark starts so, as
 * `@rocketmq-ts/remoting/acl`'s guard writes it; not imported: that subpath needs the YAML parser,
 * which a deployed console does not carry).
 */
const ACL_DENIED = 'AclException:';

/** An error text that is an ACL refusal of a name server or broker. */
export function isAclRefusal(message: string): boolean {
  return message.includes(ACL_DENIED);
}

/** The secret as the console shows it anywhere: never the value. */
export const maskSecret = (secret: string): string => (secret === '' ? '' : '******');

export class SignInRefused extends Error {
  override readonly name = 'SignInRefused';
}

/**
 * ACL for the console: whether the pages must sign in (configured with aclEnable, or learnt when
 * the cluster first refuses an unsigned call), the signed-in sessions, and the console's own
 * service identity (accessKey/secretKey in its config) for the chart sampler.
 */
export class AuthService {
  readonly sessions: SessionStore;
  private detected = false;
  private service: MQAdmin | undefined;

  constructor(private readonly config: DashboardConfig) {
    this.sessions = new SessionStore(config);
  }

  /** Pages need a signed-in session. */
  required(): boolean {
    return this.config.aclEnable || this.detected;
  }

  /** The cluster refused an unsigned call: from now on the pages ask for keys. */
  markRefused(what: string): void {
    if (this.detected || this.config.aclEnable) return;
    this.detected = true;
    log.warn(`the cluster refused an unsigned call (${what}): the console now asks for an access key and secret key`);
  }

  /** Checks the keys against the cluster (a name server and every master answer them), then opens a session. */
  async signIn(accessKey: string, secretKey: string): Promise<string> {
    if (accessKey === '' || secretKey === '') throw new SignInRefused('give both the access key and the secret key');
    const c = this.sessions.clients(accessKey, secretKey);
    try {
      await c.admin.clusterInfo();
      for (const m of await c.admin.masterAddrs()) await c.admin.brokerRuntimeInfo(m.addr);
    } catch (e) {
      await c.admin.shutdown().catch(() => undefined);
      const msg = (e as Error).message;
      if (isAclRefusal(msg)) {
        log.warn(`sign-in as accessKey=${accessKey} refused by the cluster`);
        throw new SignInRefused(`the cluster refused these keys: ${msg.slice(msg.indexOf(ACL_DENIED))}`);
      }
      throw e;
    }
    return this.sessions.add(accessKey, c);
  }

  /** The sampler's admin client, or why it does not sample. */
  samplerIdentity(unsigned: MQAdmin): { admin: MQAdmin } | { note: string } {
    if (this.config.accessKey !== '' && this.config.secretKey !== '') {
      this.service ??= new MQAdmin({
        namesrvAddr: this.config.namesrvAddr,
        instanceName: `dashboard-${process.pid}-service`,
        mqClientApiTimeoutMs: this.config.adminTimeoutMillis,
        accessKey: this.config.accessKey,
        secretKey: this.config.secretKey,
      });
      return { admin: this.service };
    }
    if (this.required()) return { note: 'ACL is on and the console has no accessKey/secretKey of its own to sample the cluster with' };
    return { admin: unsigned };
  }

  async shutdown(): Promise<void> {
    await this.sessions.closeAll();
    await this.service?.shutdown().catch(() => undefined);
  }
}
