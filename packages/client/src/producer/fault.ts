/**
 * Send latency fault avoidance: a broker that answered slowly or failed is avoided for a while,
 * longer for slower answers. Thresholds follow RocketMQ's (latency ms → avoid ms). A failed send
 * (isolation) avoids the broker for ISOLATION_MS.
 */
export const LATENCY_MAX_MS = [50, 100, 550, 1_000, 2_000, 3_000, 15_000] as const;
export const NOT_AVAILABLE_DURATION_MS = [0, 0, 30_000, 60_000, 120_000, 180_000, 600_000] as const;
/** How long a broker is avoided after a send to it failed. */
export const ISOLATION_MS = 30_000;

interface FaultItem {
  latencyMs: number;
  availableAt: number;
}

export class LatencyFaultTolerance {
  private readonly items = new Map<string, FaultItem>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Records a send's outcome for `brokerName`. */
  update(brokerName: string, latencyMs: number, isolation: boolean): void {
    const avoidMs = isolation ? ISOLATION_MS : notAvailableDuration(latencyMs);
    this.items.set(brokerName, { latencyMs, availableAt: this.now() + avoidMs });
  }

  isAvailable(brokerName: string): boolean {
    const it = this.items.get(brokerName);
    return it === undefined || this.now() >= it.availableAt;
  }

  remove(brokerName: string): void {
    this.items.delete(brokerName);
  }

  /** The avoided broker that becomes available first (a last resort when all are avoided). */
  pickOneAtLeast(): string | undefined {
    let best: [string, FaultItem] | undefined;
    for (const e of this.items) if (best === undefined || e[1].availableAt < best[1].availableAt) best = e;
    return best?.[0];
  }
}

export function notAvailableDuration(latencyMs: number): number {
  for (let i = LATENCY_MAX_MS.length - 1; i >= 0; i--) {
    if (latencyMs >= LATENCY_MAX_MS[i]!) return NOT_AVAILABLE_DURATION_MS[i]!;
  }
  return 0;
}
