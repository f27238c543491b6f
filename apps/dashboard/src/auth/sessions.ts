import { randomBytes } from 'node:crypto';
import { MQAdmin } from '@rocketmq-ts/admin';
import { Producer } from '@rocketmq-ts/client';
import { createLogger } from '@rocketmq-ts/remoting';
import type { DashboardConfig } from '../config.js';
import type { SessionClients } from './context.js';

const log = createLogger('dashboard');

export const SESSION_COOKIE = 'rmq_console_session';

/** The `Cookie` header's value of `name`, if present. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return decodeURIComponent(part.slice(i + 1).trim());
  }
  return undefined;
}

class Session implements SessionClients {
  lastUsed = Date.now();
  private started: Promise<Producer> | undefined;

  constructor(
    readonly id: string,
    readonly accessKey: string,
    readonly admin: MQAdmin,
    private readonly makeProducer: () => Producer,
  ) {}

  producer(): Promise<Producer> {
    this.started ??= (async () => {
      const p = this.makeProducer();
      await p.start();
      return p;
    })().catch((e: unknown) => {
      this.started = undefined;
      throw e;
    });
    return this.started;
  }

  /** Never the clients (their options hold the secret), should a session ever be serialized. */
  toJSON(): { accessKey: string } {
    return { accessKey: this.accessKey };
  }

  async close(): Promise<void> {
    const p = this.started;
    this.started = undefined;
    await p?.then((x) => x.shutdown()).catch(() => undefined);
    await this.admin.shutdown().catch(() => undefined);
  }
}

/**
 * Signed-in browser sessions, in memory only: a random id (the HttpOnly cookie's value) → the
 * access key and the clients signing with it. A session unused for `sessionIdleTimeoutMs` is
 * closed. The secret key is handed to the clients' options and kept nowhere else.
 */
export class SessionStore {
  private readonly sessions = new Map<string, Session>();
  private readonly sweeper: NodeJS.Timeout;
  private seq = 0;

  constructor(private readonly config: Pick<DashboardConfig, 'namesrvAddr' | 'adminTimeoutMillis' | 'sessionIdleTimeoutMs'>) {
    this.sweeper = setInterval(() => void this.sweep(), Math.min(60_000, Math.max(500, config.sessionIdleTimeoutMs / 2)));
    this.sweeper.unref();
  }

  get size(): number {
    return this.sessions.size;
  }

  /** Clients for these keys, not yet registered: the caller checks them against the cluster first. */
  clients(accessKey: string, secretKey: string): { admin: MQAdmin; makeProducer: () => Producer } {
    const n = ++this.seq;
    const base = { namesrvAddr: this.config.namesrvAddr, accessKey, secretKey };
    // Own instance names: two sessions with the same access key never share a signing core.
    return {
      admin: new MQAdmin({ ...base, instanceName: `dashboard-${process.pid}-session-${n}`, mqClientApiTimeoutMs: this.config.adminTimeoutMillis }),
      makeProducer: () => new Producer({ ...base, group: 'DASHBOARD_TEST_PRODUCER', instanceName: `dashboard-${process.pid}-session-${n}-producer` }),
    };
  }

  add(accessKey: string, c: { admin: MQAdmin; makeProducer: () => Producer }): string {
    const id = randomBytes(32).toString('base64url');
    this.sessions.set(id, new Session(id, accessKey, c.admin, c.makeProducer));
    log.info(`session signed in as accessKey=${accessKey} (${this.sessions.size} open)`);
    return id;
  }

  /** The live session of this id (its idle clock restarts), else undefined. */
  get(id: string | undefined): SessionClients | undefined {
    if (id === undefined) return undefined;
    const s = this.sessions.get(id);
    if (!s) return undefined;
    const now = Date.now();
    if (now - s.lastUsed > this.config.sessionIdleTimeoutMs) {
      this.sessions.delete(id);
      void s.close();
      return undefined;
    }
    s.lastUsed = now;
    return s;
  }

  async remove(id: string | undefined): Promise<boolean> {
    const s = id === undefined ? undefined : this.sessions.get(id);
    if (!s) return false;
    this.sessions.delete(s.id);
    log.info(`session of accessKey=${s.accessKey} signed out`);
    await s.close();
    return true;
  }

  private async sweep(): Promise<void> {
    const now = Date.now();
    for (const s of [...this.sessions.values()]) {
      if (now - s.lastUsed > this.config.sessionIdleTimeoutMs) {
        this.sessions.delete(s.id);
        log.info(`session of accessKey=${s.accessKey} expired after ${this.config.sessionIdleTimeoutMs} ms idle`);
        await s.close();
      }
    }
  }

  async closeAll(): Promise<void> {
    clearInterval(this.sweeper);
    const all = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.all(all.map((s) => s.close()));
  }
}
