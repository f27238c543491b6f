import { jsonEntries, parseLenientJson, stringifyFastjson } from '@rocketmq-ts/protocol';
import { ConfigFileManager } from '@rocketmq-ts/store';

/** What a FIFO pop handed out from one queue, until every message of it is acked or visible again. */
export interface OrderInfo {
  popTime: number;
  invisibleTime: number;
  /** Queue offsets handed out, in order. */
  offsets: number[];
  /** Offset → when it becomes visible again, when CHANGE_MESSAGE_INVISIBLETIME moved it. */
  nextVisible: Map<number, number>;
  /** Offset → how many times it was handed out before (its reconsume count). */
  counts: Map<number, number>;
  /** Acked offsets, bit i ↔ offsets[i]. */
  acked: number;
  lastConsume: number;
  attemptId: string;
}

/** Drop entries nobody touched for this long when persisting (RocketMQ: 24 h). */
const IDLE_MS = 24 * 3_600_000;

/**
 * FIFO pops (RocketMQ 5's ConsumerOrderInfoManager): a queue is blocked while some message of its
 * last batch is neither acked nor visible again, so one message group is consumed one batch at a
 * time; the group's offset moves only when the batch's head is acked. Kept in
 * `config/consumerOrderInfo.json` ({table: {"topic@group": {queueId: OrderInfo}}}, RocketMQ's keys).
 */
export class ConsumerOrderInfoManager {
  private readonly table = new Map<string, Map<number, OrderInfo>>();
  private readonly file: ConfigFileManager;
  private dirty = false;

  constructor(path: string) {
    this.file = new ConfigFileManager(path);
  }

  private static key(topic: string, group: string): string {
    return `${topic}@${group}`;
  }

  get(topic: string, group: string, queueId: number): OrderInfo | undefined {
    return this.table.get(ConsumerOrderInfoManager.key(topic, group))?.get(queueId);
  }

  private visibleAt(info: OrderInfo, offset: number): number {
    return info.nextVisible.get(offset) ?? info.popTime + info.invisibleTime;
  }

  /** Whether the queue's last batch still has a message out (not acked, not visible yet). The same attempt is never blocked. */
  isBlocked(topic: string, group: string, queueId: number, attemptId: string | undefined, now: number): boolean {
    const info = this.get(topic, group, queueId);
    if (info === undefined) return false;
    if (attemptId !== undefined && attemptId !== '' && attemptId === info.attemptId) return false;
    for (let i = 0; i < info.offsets.length; i++) {
      if (((info.acked >>> i) & 1) !== 0) continue;
      if (now < this.visibleAt(info, info.offsets[i]!)) return true;
    }
    return false;
  }

  /**
   * A new batch of the queue was handed out: counts go up for offsets handed out before (unless
   * this is the same attempt again). Returns each offset's count.
   */
  update(topic: string, group: string, queueId: number, popTime: number, invisibleTime: number, offsets: number[], attemptId: string): Map<number, number> {
    const key = ConsumerOrderInfoManager.key(topic, group);
    let m = this.table.get(key);
    if (!m) this.table.set(key, (m = new Map()));
    const old = m.get(queueId);
    const counts = new Map<number, number>();
    for (const o of offsets) {
      const before = old?.counts.get(o);
      const seen = old !== undefined && old.offsets.includes(o);
      if (!seen) continue;
      const sameAttempt = attemptId !== '' && attemptId === old.attemptId;
      const n = sameAttempt ? (before ?? 0) : (before ?? 0) + 1;
      if (n > 0) counts.set(o, n);
    }
    m.set(queueId, { popTime, invisibleTime, offsets: [...offsets], nextVisible: new Map(), counts, acked: 0, lastConsume: popTime, attemptId });
    this.dirty = true;
    return counts;
  }

  /**
   * Acks one offset of the batch. Returns the offset the group should move to (the first one not
   * acked, or after the last), -1 if the offset is not in the batch, -2 if popTime names an older batch.
   */
  commitAndNext(topic: string, group: string, queueId: number, offset: number, popTime: number): number {
    const info = this.get(topic, group, queueId);
    if (info === undefined) return offset + 1;
    if (info.popTime !== popTime) return -2;
    const i = info.offsets.indexOf(offset);
    if (i < 0) return -1;
    info.acked |= 1 << i;
    info.lastConsume = Date.now();
    this.dirty = true;
    for (let j = 0; j < info.offsets.length; j++) if (((info.acked >>> j) & 1) === 0) return info.offsets[j]!;
    return info.offsets[info.offsets.length - 1]! + 1;
  }

  /** CHANGE_MESSAGE_INVISIBLETIME of a FIFO message; returns the batch's pop time, or undefined when unknown. */
  changeInvisible(topic: string, group: string, queueId: number, offset: number, visibleAt: number): number | undefined {
    const info = this.get(topic, group, queueId);
    if (info === undefined || !info.offsets.includes(offset)) return undefined;
    info.nextVisible.set(offset, visibleAt);
    this.dirty = true;
    return info.popTime;
  }

  /** Forgets a queue's state (an admin offset reset). */
  clear(topic: string, group: string): void {
    if (this.table.delete(ConsumerOrderInfoManager.key(topic, group))) this.dirty = true;
  }

  async load(): Promise<number> {
    const loaded = await this.file.load((text) => parseLenientJson(text) as Record<string, unknown>);
    if (!loaded) return 0;
    for (const [key, queues] of jsonEntries(loaded['table'])) {
      const m = new Map<number, OrderInfo>();
      for (const [qid, raw] of jsonEntries(queues)) {
        const o = raw as Record<string, unknown>;
        const rel = Array.isArray(o['o']) ? (o['o'] as unknown[]).map(Number) : [];
        const base = rel[0] ?? 0;
        const offsets = rel.map((v, i) => (i === 0 ? v : base + v));
        const toMap = (v: unknown): Map<number, number> => new Map(jsonEntries(v).map(([k, x]) => [Number(k), Number(x)] as [number, number]));
        m.set(Number(qid), {
          popTime: Number(o['popTime'] ?? 0),
          invisibleTime: Number(o['i'] ?? 0),
          offsets,
          nextVisible: toMap(o['ot']),
          counts: toMap(o['oc']),
          acked: Number(o['cm'] ?? 0),
          lastConsume: Number(o['l'] ?? 0),
          attemptId: String(o['a'] ?? ''),
        });
      }
      this.table.set(String(key), m);
    }
    return this.table.size;
  }

  async persist(force = false): Promise<void> {
    if (!this.dirty && !force) return;
    this.dirty = false;
    const now = Date.now();
    const table: Record<string, Record<string, unknown>> = {};
    for (const [key, m] of this.table) {
      const queues: Record<string, unknown> = {};
      for (const [qid, info] of m) {
        if (now - info.lastConsume > IDLE_MS) {
          m.delete(qid);
          continue;
        }
        const base = info.offsets[0] ?? 0;
        queues[String(qid)] = {
          popTime: info.popTime,
          i: info.invisibleTime,
          o: info.offsets.map((v, i) => (i === 0 ? v : v - base)),
          ot: Object.fromEntries(info.nextVisible),
          oc: Object.fromEntries(info.counts),
          l: info.lastConsume,
          cm: info.acked,
          a: info.attemptId,
        };
      }
      if (m.size === 0) this.table.delete(key);
      else table[key] = queues;
    }
    await this.file.persist(stringifyFastjson({ table }));
  }
}
