/**
 * The put/get rates and day counters GET_BROKER_RUNTIME_INFO reports (mqadmin brokerStatus,
 * clusterList and the dashboard read them): totals are sampled once a second into a ring, rates
 * are taken over the last 10 s, 1 min and 10 min, and the totals are remembered at each local
 * midnight ("today morning", "yesterday morning").
 */
export interface StatsTotals {
  put: number;
  get: number;
}

const WINDOWS_S = [10, 60, 600] as const;
const RING_SIZE = 601;

/** Per-topic put totals (the sum of its queues' max offsets) and per topic@group pulled counts. */
export interface KeyedTotals {
  topicPuts(): Map<string, number>;
}

/** Keyed totals kept for the rate window: one snapshot a second. */
const KEYED_WINDOW_S = 10;

export class BrokerStatsSampler {
  private readonly ring: Array<{ t: number; put: number; get: number }> = [];
  private readonly keyedRing: Array<{ t: number; puts: Map<string, number>; gets: Map<string, number> }> = [];
  /** Messages pulled per "topic@group" (counted per pull, not per message). */
  private readonly groupGets = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;
  private day: string;
  todayMorning: StatsTotals = { put: 0, get: 0 };
  yesterdayMorning: StatsTotals = { put: 0, get: 0 };

  constructor(
    private readonly totals: () => StatsTotals,
    private readonly now: () => number = Date.now,
    private readonly keyed?: KeyedTotals,
  ) {
    this.day = localDay(this.now());
  }

  start(intervalMs = 1_000): void {
    this.sample();
    this.timer ??= setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  sample(): void {
    const t = this.now();
    const cur = this.totals();
    const day = localDay(t);
    if (day !== this.day) {
      this.day = day;
      this.yesterdayMorning = this.todayMorning;
      this.todayMorning = { ...cur };
    }
    this.ring.push({ t, put: cur.put, get: cur.get });
    if (this.ring.length > RING_SIZE) this.ring.shift();
    if (this.keyed !== undefined) {
      this.keyedRing.push({ t, puts: this.keyed.topicPuts(), gets: new Map(this.groupGets) });
      if (this.keyedRing.length > KEYED_WINDOW_S + 1) this.keyedRing.shift();
    }
  }

  /** A pull returned `n` messages of `topic` to `group` (GET_CONSUME_STATS' consumeTps). */
  countGet(topic: string, group: string, n: number): void {
    const key = topic + '@' + group;
    this.groupGets.set(key, (this.groupGets.get(key) ?? 0) + n);
  }

  /** Forgets a deleted topic's or group's counters. */
  forget(pred: (key: string) => boolean): void {
    for (const k of this.groupGets.keys()) if (pred(k)) this.groupGets.delete(k);
  }

  /** Messages stored per second in `topic` over the last 10 s (GET_TOPIC_STATS_INFO's topicPutTps). */
  topicPutTps(topic: string): number {
    return this.keyedRate((s) => s.puts.get(topic));
  }

  /** Messages pulled per second by `group` from `topic` over the last 10 s. */
  groupConsumeTps(topic: string, group: string): number {
    const key = topic + '@' + group;
    return this.keyedRate((s) => s.gets.get(key));
  }

  private keyedRate(of: (s: { puts: Map<string, number>; gets: Map<string, number> }) => number | undefined): number {
    const r = this.keyedRing;
    const last = r[r.length - 1];
    const first = r[0];
    if (last === undefined || first === undefined || last.t <= first.t) return 0;
    const rate = ((of(last) ?? 0) - (of(first) ?? 0)) / ((last.t - first.t) / 1000);
    return rate > 0 ? Math.round(rate * 100) / 100 : 0;
  }

  /** "10s 1min 10min" rates, formatted as RocketMQ does ("%.2f %.2f %.2f"). */
  tps(kind: keyof StatsTotals): string {
    const last = this.ring[this.ring.length - 1];
    if (last === undefined) return '0.00 0.00 0.00';
    return WINDOWS_S.map((w) => {
      const first = this.ring[Math.max(0, this.ring.length - 1 - w)]!;
      const secs = (last.t - first.t) / 1000;
      return (secs > 0 ? (last[kind] - first[kind]) / secs : 0).toFixed(2);
    }).join(' ');
  }
}

function localDay(t: number): string {
  const d = new Date(t);
  return `${d.getFullYear()}-${d.getMonth()}-${d.getDate()}`;
}
