// What the push consumer's services (rebalance, pull, consume) share.
import type { MQClientInstance } from '../client-instance.js';
import type { Log } from '../logger.js';
import type { ConsumeFromWhere, MessageModel, SubscriptionData } from '../types.js';
import type { ResolvedConsumerOptions } from './consumer-options.js';
import type { OffsetStore } from './offset-store.js';
import type { PUSH_CONSUMER_DEFAULTS } from './push-options.js';

export type ResolvedPushOptions = ResolvedConsumerOptions<typeof PUSH_CONSUMER_DEFAULTS>;

/** The consumer's settings, the client core and offset store it started with, and its state. */
export interface PushContext {
  readonly group: string;
  readonly messageModel: MessageModel;
  readonly consumeFromWhere: ConsumeFromWhere;
  readonly o: ResolvedPushOptions;
  readonly log: Log;
  readonly instance: MQClientInstance;
  readonly offsetStore: OffsetStore;
  /** Subscriptions by topic; subscribe() and unsubscribe() change them while running. */
  readonly subs: ReadonlyMap<string, SubscriptionData>;
  /** Timers shutdown() cancels. */
  readonly timers: Timers;
  /** Between start() and shutdown(): pulls, listener calls and retries may begin. */
  isRunning(): boolean;
  /** suspend() holds every pull until resume(). */
  isSuspended(): boolean;
}

/** Delayed retries and periodic tasks, cancelled together at shutdown. */
export class Timers {
  private readonly pending = new Set<NodeJS.Timeout>();
  private readonly periodic: NodeJS.Timeout[] = [];

  after(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.pending.delete(t);
      fn();
    }, ms);
    this.pending.add(t);
  }

  /** Does not keep the process alive. */
  every(ms: number, fn: () => void): void {
    const t = setInterval(fn, ms);
    t.unref();
    this.periodic.push(t);
  }

  clear(): void {
    for (const t of this.periodic) clearInterval(t);
    for (const t of this.pending) clearTimeout(t);
    this.pending.clear();
  }
}
