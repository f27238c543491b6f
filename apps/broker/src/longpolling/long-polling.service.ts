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
}

export class LongPollingService {
  private readonly held = new Map<string, HeldPull[]>();
  private timer: NodeJS.Timeout | null = null;
  private count = 0;

  /**
   * @param checkIntervalMs how often expired holds are answered (RocketMQ re-checks every 5 s with
   *   long polling; we use a finer tick so the hold time is honoured to within this interval).
   */
  constructor(private readonly checkIntervalMs = 200) {}

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
    for (const h of all) h.wake();
  }

  hold(h: HeldPull): void {
    const key = h.topic + '@' + h.queueId;
    let list = this.held.get(key);
    if (!list) this.held.set(key, (list = []));
    list.push(h);
    this.count++;
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
    for (const h of woken) h.wake();
  }

  /** Answers every request parked on a queue (a FIFO queue unblocked by an ack has new work without a new message). */
  wakeAll(topic: string, queueId: number): void {
    const key = topic + '@' + queueId;
    const list = this.held.get(key);
    if (!list) return;
    this.held.delete(key);
    this.count -= list.length;
    for (const h of list) h.wake();
  }

  expire(now: number): void {
    if (this.count === 0) return;
    const due: HeldPull[] = [];
    for (const [key, list] of this.held) {
      const keep = list.filter((h) => {
        if (h.deadline <= now) {
          due.push(h);
          return false;
        }
        return true;
      });
      if (keep.length === 0) this.held.delete(key);
      else if (keep.length !== list.length) this.held.set(key, keep);
    }
    this.count -= due.length;
    for (const h of due) h.wake();
  }
}
