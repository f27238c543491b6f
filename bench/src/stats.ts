import { readFileSync } from 'node:fs';

/** Latencies in microseconds, kept raw (bounded by the scenario's message count) for exact percentiles. */
export class LatencyRecorder {
  private samples: Float64Array;
  private n = 0;
  constructor(capacity: number) {
    this.samples = new Float64Array(capacity);
  }
  record(us: number): void {
    if (this.n === this.samples.length) {
      const next = new Float64Array(this.samples.length * 2);
      next.set(this.samples);
      this.samples = next;
    }
    this.samples[this.n++] = us;
  }
  get count(): number {
    return this.n;
  }
  percentiles(ps: readonly number[]): number[] {
    const s = this.samples.slice(0, this.n).sort();
    return ps.map((p) => (this.n === 0 ? NaN : s[Math.min(this.n - 1, Math.floor((p / 100) * this.n))]!));
  }
}

const CLK_TCK = 100; // Linux USER_HZ; /proc/<pid>/stat times are in these ticks

/** utime + stime of a process, in microseconds (Linux /proc). */
export function processCpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may contain spaces) start after the last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  return ((utime + stime) * 1e6) / CLK_TCK;
}

/** user + system CPU of this (the bench) process, in microseconds. */
export function selfCpuMicros(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

/** Peak resident set size (VmHWM) in bytes. */
export function processPeakRss(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /VmHWM:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) * 1024 : NaN;
}

/** Current RSS in bytes. */
export function processRss(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) * 1024 : NaN;
}

/** Samples a server's RSS while a scenario runs, since VmHWM covers its whole life. */
export class RssSampler {
  private timer: NodeJS.Timeout | null = null;
  peak = 0;
  constructor(private readonly pid: number) {}
  start(intervalMs = 100): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
  }
  private sample(): void {
    try {
      this.peak = Math.max(this.peak, processRss(this.pid));
    } catch {
      // the process may be gone; the last sample stands
    }
  }
  stop(): number {
    if (this.timer) clearInterval(this.timer);
    this.sample();
    return this.peak;
  }
}
