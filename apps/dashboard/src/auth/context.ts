import { AsyncLocalStorage } from 'node:async_hooks';
import type { MQAdmin } from '@rocketmq-ts/admin';
import type { Producer } from '@rocketmq-ts/client';

/** What a request signed in with ACL keys acts through; the secret stays inside the clients' options. */
export interface SessionClients {
  readonly accessKey: string;
  readonly admin: MQAdmin;
  /** A producer signing with the session's keys (test messages), started on first use. */
  producer(): Promise<Producer>;
}

const current = new AsyncLocalStorage<SessionClients>();

/** The signed-in session of the request being answered, if any. */
export function currentSession(): SessionClients | undefined {
  return current.getStore();
}

/** Runs `fn` (and everything it starts) as the given session. */
export function runInSession<T>(session: SessionClients | undefined, fn: () => T): T {
  return session ? current.run(session, fn) : current.exit(fn);
}
