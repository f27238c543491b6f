/**
 * Pull requests parked until a message arrives for their queue or their hold time ends
 * (RocketMQ's PullRequestHoldService). The dispatcher calls `notifyMessageArriving` for every
 * message it indexes; a parked request whose queue got a message at or past its offset (and whose
 * filter matches, when the caller can tell) is handed back to the pull processor, which answers
 * it with suspend disabled. A timer wakes requests whose hold expired.
 */
export interface HeldPull {
  topic: string;
  queueId: number;
  /** The pull wants messages from this queue offset. */
  offset: number;
  /** ms since epoch when the request must be answered even if nothing arrived. */
  deadline: number;
  /** Tag-code/properties check for the arriving message; absent = any message wakes it. */
  matches?: (tagsCode: number, properties: string | undefined) => boolean;
  /** Answers the request (called at most once). */
  wake: () => void;
  /** The connection the request came on: bounds holds per connection; a closed one's holds are dropped. */
  owner?: { readonly isClosed: boolean };
}

/** Why a pull could not be held. */
export type HoldRefusal = 'connection' | 'total';

export class LongPollingService {
  private readonly held = new Map<string, HeldPull[]>();
  private timer: NodeJS.Timeout | null = null;
  private count = 0;
  private readonly perOwner = new WeakMap<object, number>();

  /**
   * @param checkIntervalMs how often expired holds are answered (RocketMQ re-checks every 5 s with
   *   long polling; we use a finer tick so the hold time is honoured to within this interval).
   * @param maxPerConnection most holds one connection may have (memory stays bounded whatever a peer sends)
   * @param maxTotal most holds in all
   */
  constructor(
    private readonly checkIntervalMs = 200,
    private readonly maxPerConnection = Number.POSITIVE_INFINITY,
    private readonly maxTotal = Number.POSITIVE_INFINITY,
  ) {}

  /** Holds of one connection now. */
  heldBy(owner: object): number {
    return this.perOwner.get(owner) ?? 0;
  }

  private released(h: HeldPull): void {
    const o = h.owner;
    if (o === undefined) return;
    const n = (this.perOwner.get(o) ?? 1) - 1;
    if (n <= 0) this.perOwner.delete(o);
    else this.perOwner.set(o, n);
  }

  private wakeOne(h: HeldPull): void {
    this.released(h);
    h.wake();
  }

  get size(): number {
    return this.count;
  }

  start(): void {
    this.timer ??= setInterval(() => this.expire(Date.now()), this.checkIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    // Answer everything still waiting so clients are not left hanging on shutdown.
    const all = [...this.held.values()].flat();
    this.held.clear();
    this.count = 0;
    for (const h of all) this.wakeOne(h);
  }

  /** Parks `h`; a refusal (nothing parked) when its connection or the service is at its bound. */
  hold(h: HeldPull): HoldRefusal | undefined {
    // Pulls are bounded; POP parks its own requests under popPollingSize / maxPopPollingSize.
    if (h.owner !== undefined) {
      if (this.count >= this.maxTotal) return 'total';
      const n = this.perOwner.get(h.owner) ?? 0;
      if (n >= this.maxPerConnection) return 'connection';
      this.perOwner.set(h.owner, n + 1);
    }
    const key = h.topic + '@' + h.queueId;
    let list = this.held.get(key);
    if (!list) this.held.set(key, (list = []));
    list.push(h);
    this.count++;
    return undefined;
  }

  /** A message was stored at `queueOffset`; the queue's max offset is now `queueOffset + 1`. */
  notifyMessageArriving(topic: string, queueId: number, queueOffset: number, tagsCode: number, properties?: string): void {
    if (this.count === 0) return;
    const key = topic + '@' + queueId;
    const list = this.held.get(key);
    if (!list) return;
    let keep: HeldPull[] | null = null;
    const woken: HeldPull[] = [];
    for (const h of list) {
      if (queueOffset >= h.offset && (!h.matches || h.matches(tagsCode, properties))) woken.push(h);
      else (keep ??= []).push(h);
    }
    if (woken.length === 0) return;
    if (keep) this.held.set(key, keep);
    else this.held.delete(key);
    this.count -= woken.length;
    for (const h of woken) this.wakeOne(h);
  }

  /** Answers every request parked on a queue (a FIFO queue unblocked by an ack has new work without a new message). */
  wakeAll(topic: string, queueId: number): void {
    const key = topic + '@' + queueId;
    const list = this.held.get(key);
    if (!list) return;
    this.held.delete(key);
    this.count -= list.length;
    for (const h of list) this.wakeOne(h);
  }

  expire(now: number): void {
    if (this.count === 0) return;
    const due: HeldPull[] = [];
    for (const [key, list] of this.held) {
      const keep = list.filter((h) => {
        // A closed connection's holds go at once (their answers could not be sent anyway).
        if (h.deadline <= now || h.owner?.isClosed === true) {
          due.push(h);
          return false;
        }
        return true;
      });
      if (keep.length === 0) this.held.delete(key);
      else if (keep.length !== list.length) this.held.set(key, keep);
    }
    this.count -= due.length;
    for (const h of due) this.wakeOne(h);
  }
}
