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

export class BrokerStatsSampler {
  private readonly ring: Array<{ t: number; put: number; get: number }> = [];
  private timer: NodeJS.Timeout | null = null;
  private day: string;
  todayMorning: StatsTotals = { put: 0, get: 0 };
  yesterdayMorning: StatsTotals = { put: 0, get: 0 };

  constructor(
    private readonly totals: () => StatsTotals,
    private readonly now: () => number = Date.now,
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
