import type { Row } from './report.js';
import { RssSampler, processCpuMicros, selfCpuMicros } from './stats.js';
import { runWindow, type WindowResult } from './window.js';

/** `--quick`: a reduced run (under a minute) for a smoke check; full runs go to BENCHMARKS.md. */
export const quick = process.argv.includes('--quick');

const scIdx = process.argv.indexOf('--scenarios');
/** `--scenarios a,b`: run only these of SCENARIOS' keys (all when absent). */
export const scenarioFilter = scIdx >= 0 ? new Set((process.argv[scIdx + 1] ?? '').split(',')) : undefined;
export function wanted(key: keyof typeof SCENARIOS): boolean {
  return scenarioFilter === undefined || scenarioFilter.has(key);
}

export const PAYLOAD = Buffer.alloc(1024, 0x61);
export const plan = quick
  ? { sendRequests: 30_000, batchRequests: 600, latencyRequests: 2_000, consumeMessages: 30_000, maxMs: 3_000, floorMs: 1_000, repeats: 1 }
  : { sendRequests: 300_000, batchRequests: 6_000, latencyRequests: 20_000, consumeMessages: 300_000, maxMs: 20_000, floorMs: 4_000, repeats: 3 };
const repIdx = process.argv.indexOf('--repeats');
/** `--repeats n`: windows per row (a quicker comparison run; full runs keep the default). */
if (repIdx >= 0) plan.repeats = Math.max(1, Math.floor(Number(process.argv[repIdx + 1]) || 1));

export interface ScenarioSpec {
  scenario: string;
  inflight: number;
  perRequest: number;
  requests: number;
}
export const SCENARIOS = {
  async: { scenario: 'send, async durability, 256 in flight', inflight: 256, perRequest: 1, requests: plan.sendRequests },
  batch: { scenario: 'batch send, 64 msgs/request, 16 in flight', inflight: 16, perRequest: 64, requests: plan.batchRequests },
  sync: { scenario: 'send, sync durability, 256 in flight', inflight: 256, perRequest: 1, requests: plan.sendRequests },
  latency: { scenario: 'send, 1 in flight (latency)', inflight: 1, perRequest: 1, requests: plan.latencyRequests },
  consume: { scenario: 'consume from the tail, 32 msgs/pull', inflight: 1, perRequest: 32, requests: 0 },
  popAck: { scenario: 'pop + ack each, 32 msgs/pop', inflight: 1, perRequest: 32, requests: 0 },
  transaction: { scenario: 'transactional send (half + commit), 256 in flight', inflight: 256, perRequest: 1, requests: plan.sendRequests / 2 },
  syncMaster: { scenario: 'send, replicated before the reply, 256 in flight', inflight: 256, perRequest: 1, requests: plan.sendRequests },
  asyncMaster: { scenario: 'send, replicated after the reply, 256 in flight', inflight: 256, perRequest: 1, requests: plan.sendRequests },
  timer: { scenario: 'timer delivery precision with 1M timers pending', inflight: 256, perRequest: 1, requests: 1_000_000 },
  proxySend: { scenario: 'send via the gRPC proxy (official 5.x client), 256 in flight', inflight: 256, perRequest: 1, requests: plan.sendRequests / 3 },
  proxyReceiveAck: { scenario: 'receive + ack each via the gRPC proxy (official 5.x client), 32 msgs/receive', inflight: 4, perRequest: 32, requests: 0 },
  jsonSend: { scenario: 'send, JSON headers (Java client framing), 256 in flight', inflight: 256, perRequest: 1, requests: plan.sendRequests },
  binaryJavaProps: {
    scenario: "send, binary headers, the JSON row's properties (UNIQ_KEY per message), 256 in flight",
    inflight: 256,
    perRequest: 1,
    requests: plan.sendRequests,
  },
  jsonPull: { scenario: 'consume from the tail, JSON headers (Java client framing), 32 msgs/pull', inflight: 1, perRequest: 32, requests: 0 },
  grpcFloor: { scenario: 'bare grpc-js unary call, 256 in flight (floor under the proxy)', inflight: 256, perRequest: 1, requests: plan.sendRequests / 3 },
} satisfies Record<string, ScenarioSpec>;

/**
 * Runs `run` plan.repeats times and keeps the median row by msgs/s (this VM's neighbours make single
 * runs vary by ±15 %); peak RSS is the largest seen, the note gives the spread.
 */
export async function medianRow(run: () => Promise<Row>): Promise<Row> {
  const rows: Row[] = [];
  for (let i = 0; i < plan.repeats; i++) rows.push(await run());
  return medianOf(rows);
}

/** The median row by msgs/s of repeated windows of one row, with the largest peak RSS and the spread. */
function medianOf(rows: Row[]): Row {
  if (rows.length === 1) return rows[0]!;
  const sorted = [...rows].sort((a, b) => a.msgsPerSec - b.msgsPerSec);
  const mid = { ...sorted[Math.floor(sorted.length / 2)]! };
  const rss = rows.map((r) => r.peakRssMB).filter((v): v is number => v !== undefined);
  if (rss.length > 0) mid.peakRssMB = Math.max(...rss);
  const spread = `median of ${rows.length} (${Math.round(sorted[0]!.msgsPerSec / 1000)}k-${Math.round(sorted[sorted.length - 1]!.msgsPerSec / 1000)}k)`;
  mid.note = mid.note ? `${mid.note}; ${spread}` : spread;
  return mid;
}

/**
 * Runs a window against a server process (plan.repeats times, median) and turns it into a row.
 * `others` are further server processes (a slave) whose CPU per message goes into the note.
 */
export async function measure(
  spec: ScenarioSpec,
  system: string,
  durability: string,
  pid: number,
  send: (i: number) => Promise<unknown>,
  others: Record<string, number> = {},
): Promise<Row> {
  return medianRow(() => measureOnce(spec, system, durability, pid, send, others));
}

/**
 * Rows to be compared with each other, their windows taken in turn (A B A B ...) rather than row by
 * row: on this VM each window slows the ones after it (the page cache it grows, see BENCHMARKS.md,
 * Round 6), so a row measured after another would carry that cost alone.
 */
export async function measureAlternated(
  items: readonly { spec: ScenarioSpec; send: () => (i: number) => Promise<unknown> }[],
  system: string,
  durability: string,
  pid: number,
): Promise<Row[]> {
  const windows: Row[][] = items.map(() => []);
  for (let r = 0; r < plan.repeats; r++) {
    for (let k = 0; k < items.length; k++) {
      const it = items[k]!;
      windows[k]!.push(await measureOnce(it.spec, system, durability, pid, it.send(), {}));
    }
  }
  return windows.map((w) => {
    const row = medianOf(w);
    row.note = row.note ? `${row.note}; windows alternated with the other rows'` : "windows alternated with the other rows'";
    return row;
  });
}

async function measureOnce(
  spec: ScenarioSpec,
  system: string,
  durability: string,
  pid: number,
  send: (i: number) => Promise<unknown>,
  others: Record<string, number>,
): Promise<Row> {
  const rss = pid ? new RssSampler(pid) : null;
  rss?.start();
  const cpu0 = pid ? processCpuMicros(pid) : 0;
  const self0 = selfCpuMicros();
  const others0 = Object.entries(others).map(([name, p]) => [name, p, processCpuMicros(p)] as const);
  const r: WindowResult = await runWindow({ inflight: spec.inflight, requests: spec.requests, perRequest: spec.perRequest, maxMs: plan.maxMs, send });
  const cpu1 = pid ? processCpuMicros(pid) : 0;
  const self1 = selfCpuMicros();
  const peak = rss?.stop();
  const notes = others0.map(([name, p, c0]) => `${name} ${((processCpuMicros(p) - c0) / Math.max(1, r.messages)).toFixed(1)} µs/msg`);
  if (r.errors) notes.push(`${r.errors} errors: ${r.firstError}`);
  return withClientCpu(
    rowFrom(
      spec.scenario,
      system,
      durability,
      r.messages,
      r.elapsedMs,
      r.latency.percentiles([50, 99, 99.9]),
      pid ? (cpu1 - cpu0) / Math.max(1, r.messages) : undefined,
      peak,
      notes.length > 0 ? notes.join('; ') : undefined,
    ),
    (self1 - self0) / Math.max(1, r.messages),
  );
}

export function withClientCpu(row: Row, clientCpuUsPerMsg: number): Row {
  row.clientCpuUsPerMsg = clientCpuUsPerMsg;
  return row;
}

export function rowFrom(
  scenario: string,
  system: string,
  durability: string,
  messages: number,
  elapsedMs: number,
  pct: number[] | undefined,
  cpuUsPerMsg: number | undefined,
  peakRss: number | undefined,
  note?: string,
): Row {
  const secs = elapsedMs / 1000;
  const row: Row = { scenario, system, durability, msgsPerSec: messages / secs, mbPerSec: (messages * PAYLOAD.length) / secs / 1e6 };
  if (pct) [row.p50Us, row.p99Us, row.p999Us] = pct as [number, number, number];
  if (cpuUsPerMsg !== undefined) row.cpuUsPerMsg = cpuUsPerMsg;
  if (peakRss !== undefined) row.peakRssMB = peakRss / 1e6;
  if (note) row.note = note;
  return row;
}
