import type { ReceivedMessage } from '../received-message.js';

/** A local lock older than this (ms) is treated as expired; the broker's lease is 60 s, renewed every 20 s. */
export const REBALANCE_LOCK_MAX_LIVE_TIME_MS = 30_000;
/** ms after which a queue that was not pulled is considered stuck. */
export const PULL_MAX_IDLE_TIME_MS = 120_000;

/**
 * Messages pulled from one queue and not yet consumed, ordered by queue offset. The consumed
 * offset to commit is the smallest offset still cached (or one past the largest seen), so a slow
 * message holds the commit back and nothing is skipped after a restart.
 */
export class ProcessQueue {
  private readonly msgs = new Map<number, ReceivedMessage>();
  /** Offsets of `msgs`, ascending. */
  private offsets: number[] = [];
  /** Orderly: messages taken for the running listener call. */
  private readonly consuming = new Map<number, ReceivedMessage>();
  private msgSize = 0;
  private queueOffsetMax = -1;
  dropped = false;
  locked = false;
  lastLockTimestamp = 0;
  lastPullTimestamp = Date.now();
  lastConsumeTimestamp = Date.now();
  /** Orderly: a consume loop is running for this queue. */
  consumeRunning = false;
  /** Broker max offset seen in the last pull, for lag. */
  maxOffsetInBroker = 0;

  get msgCount(): number {
    return this.msgs.size + this.consuming.size;
  }

  get msgSizeBytes(): number {
    return this.msgSize;
  }

  /** Adds pulled messages; returns the new ones (already cached offsets are ignored). */
  putMessages(list: readonly ReceivedMessage[]): ReceivedMessage[] {
    const added: ReceivedMessage[] = [];
    for (const m of list) {
      if (this.msgs.has(m.queueOffset) || this.consuming.has(m.queueOffset)) continue;
      this.msgs.set(m.queueOffset, m);
      this.insertOffset(m.queueOffset);
      this.msgSize += m.body.length;
      if (m.queueOffset > this.queueOffsetMax) this.queueOffsetMax = m.queueOffset;
      added.push(m);
    }
    return added;
  }

  private insertOffset(o: number): void {
    const a = this.offsets;
    if (a.length === 0 || a[a.length - 1]! < o) {
      a.push(o);
      return;
    }
    let lo = 0;
    let hi = a.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (a[mid]! < o) lo = mid + 1;
      else hi = mid;
    }
    a.splice(lo, 0, o);
  }

  /** Distance between the smallest and largest cached offset (concurrent consumption flow control). */
  maxSpan(): number {
    if (this.offsets.length === 0) return 0;
    return this.offsets[this.offsets.length - 1]! - this.offsets[0]!;
  }

  /**
   * Removes consumed messages and returns the offset to commit: the smallest offset still
   * cached, or one past the largest offset seen when nothing is left; -1 when nothing was cached.
   */
  removeMessages(list: readonly ReceivedMessage[]): number {
    if (this.msgs.size === 0 && this.offsets.length === 0) return -1;
    let removed = false;
    for (const m of list) {
      const had = this.msgs.get(m.queueOffset);
      if (had === undefined) continue;
      this.msgs.delete(m.queueOffset);
      this.msgSize -= had.body.length;
      removed = true;
    }
    if (removed) this.offsets = this.offsets.filter((o) => this.msgs.has(o));
    this.lastConsumeTimestamp = Date.now();
    return this.offsets.length > 0 ? this.offsets[0]! : this.queueOffsetMax + 1;
  }

  /** Orderly: takes up to `n` messages in offset order for the listener. */
  takeMessages(n: number): ReceivedMessage[] {
    const out: ReceivedMessage[] = [];
    while (out.length < n && this.offsets.length > 0) {
      const o = this.offsets.shift()!;
      const m = this.msgs.get(o)!;
      this.msgs.delete(o);
      this.consuming.set(o, m);
      out.push(m);
    }
    this.lastConsumeTimestamp = Date.now();
    return out;
  }

  /** Orderly: the taken messages were consumed; returns the offset to commit (-1 if none). */
  commit(): number {
    let max = -1;
    for (const [o, m] of this.consuming) {
      if (o > max) max = o;
      this.msgSize -= m.body.length;
    }
    this.consuming.clear();
    return max < 0 ? -1 : max + 1;
  }

  /** Orderly: the taken messages go back to be consumed again, still first in line. */
  makeMessagesToConsumeAgain(list: readonly ReceivedMessage[]): void {
    for (const m of list) {
      this.consuming.delete(m.queueOffset);
      this.msgs.set(m.queueOffset, m);
      this.insertOffset(m.queueOffset);
    }
  }

  isLockExpired(now = Date.now()): boolean {
    return now - this.lastLockTimestamp > REBALANCE_LOCK_MAX_LIVE_TIME_MS;
  }

  clear(): void {
    this.msgs.clear();
    this.consuming.clear();
    this.offsets = [];
    this.msgSize = 0;
  }

  info(): Record<string, number | boolean> {
    return {
      cachedMsgCount: this.msgCount,
      cachedMsgSizeInMiB: Math.round(this.msgSize / 1048576),
      cachedMsgMinOffset: this.offsets[0] ?? 0,
      cachedMsgMaxOffset: this.offsets[this.offsets.length - 1] ?? 0,
      droped: this.dropped,
      locked: this.locked,
      lastLockTimestamp: this.lastLockTimestamp,
      lastPullTimestamp: this.lastPullTimestamp,
      lastConsumeTimestamp: this.lastConsumeTimestamp,
      transactionMsgCount: 0,
      tryUnlockTimes: 0,
    };
  }
}
