import { decodeReceiptHandle } from './receipt-handle.js';

/** Invisible time given at the n-th renewal (RocketMQ's proxy steps up the same way). */
const RENEW_STEPS_MS = [60_000, 180_000, 300_000, 600_000, 1_800_000, 3_600_000];

interface Tracked {
  clientId: string;
  group: string;
  topic: string;
  messageId: string;
  /** The newest handle; the client keeps acking with the one it was given. */
  handle: string;
  since: number;
  renewals: number;
  failures: number;
  busy: boolean;
}

export interface RenewOptions {
  renewAheadMs: number;
  renewMaxTimeMs: number;
  /** CHANGE_MESSAGE_INVISIBLETIME for one message; resolves with the new handle. */
  change: (t: { group: string; topic: string; handle: string; messageId: string }, invisibleMs: number) => Promise<string>;
  onError: (what: string, e: unknown) => void;
}

/**
 * Keeps the messages a push consumer is still processing invisible (auto_renew receives): each
 * handle is renewed shortly before it expires, for at most renewMaxTimeMs; the client's ack or
 * change then uses the newest handle. A client that goes away has its messages made visible
 * again a second later instead of waiting out their invisibility.
 */
export class ReceiptHandleRenewer {
  private readonly tracked = new Map<string, Tracked>();

  constructor(private readonly o: RenewOptions) {}

  get size(): number {
    return this.tracked.size;
  }

  track(clientId: string, group: string, topic: string, messageId: string, handle: string): void {
    this.tracked.set(key(group, handle), { clientId, group, topic, messageId, handle, since: Date.now(), renewals: 0, failures: 0, busy: false });
  }

  /** The handle to use for `handle` (the newest renewal of it, or itself). */
  current(group: string, handle: string): string {
    return this.tracked.get(key(group, handle))?.handle ?? handle;
  }

  /** Stops renewing (acked, changed by the client, or given up). */
  remove(group: string, handle: string): void {
    this.tracked.delete(key(group, handle));
  }

  /** The client is gone: its messages come back after 1 s. */
  async releaseClient(clientId: string): Promise<void> {
    const mine = [...this.tracked.entries()].filter(([, t]) => t.clientId === clientId);
    for (const [k] of mine) this.tracked.delete(k);
    await Promise.all(mine.map(([, t]) => this.o.change(t, 1000).catch((e: unknown) => this.o.onError('release', e))));
  }

  /** One pass: renew every handle that expires within renewAheadMs. */
  async scan(now = Date.now()): Promise<void> {
    const due: Array<[string, Tracked]> = [];
    for (const e of this.tracked) {
      const t = e[1];
      if (t.busy) continue;
      const h = decodeReceiptHandle(t.handle);
      if (h === undefined || now - t.since > this.o.renewMaxTimeMs || h.nextVisibleTime <= now) {
        this.tracked.delete(e[0]);
        continue;
      }
      if (h.nextVisibleTime - now <= this.o.renewAheadMs) due.push(e);
    }
    await Promise.all(
      due.map(async ([k, t]) => {
        t.busy = true;
        try {
          const ms = RENEW_STEPS_MS[Math.min(t.renewals, RENEW_STEPS_MS.length - 1)]!;
          t.handle = await this.o.change(t, ms);
          t.renewals++;
          t.failures = 0;
        } catch (e) {
          if (++t.failures >= 3) this.tracked.delete(k);
          this.o.onError('renew', e);
        } finally {
          t.busy = false;
        }
      }),
    );
  }
}

function key(group: string, handle: string): string {
  return `${group}\u0000${handle}`;
}
