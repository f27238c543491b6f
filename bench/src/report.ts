import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';

export interface Row {
  scenario: string;
  system: string;
  /** Which durability this row pairs with: async (flush later), sync (fsync before ack), none, disk. */
  durability: string;
  msgsPerSec: number;
  mbPerSec: number;
  p50Us?: number;
  p99Us?: number;
  p999Us?: number;
  cpuUsPerMsg?: number;
  /** The bench process's own CPU (load generator or consumer) per message; it shares the cores. */
  clientCpuUsPerMsg?: number;
  peakRssMB?: number;
  note?: string;
}

export interface Ratio {
  label: string;
  value: number;
}

export interface BenchReport {
  date: string;
  quick: boolean;
  /** `--only <system>`: a partial run, kept out of BENCHMARKS.md. */
  only?: string;
  machine: { cores: number; cpuModel: string; memoryGiB: number; node: string; platform: string };
  rows: Row[];
  ratios: Ratio[];
  durationSec: number;
}

export function machineInfo(): BenchReport['machine'] {
  const c = cpus();
  return {
    cores: c.length,
    cpuModel: c[0]?.model ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
  };
}

const fmt = (v: number | undefined, digits = 0): string =>
  v === undefined || Number.isNaN(v) ? '-' : v.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

export function tableLines(rows: Row[]): string[] {
  const head = ['scenario', 'system', 'durability', 'msgs/s', 'MB/s', 'p50 ms', 'p99 ms', 'p999 ms', 'CPU µs/msg', 'peak RSS MB', 'note'];
  const body = rows.map((r) => [
    r.scenario,
    r.system,
    r.durability,
    fmt(r.msgsPerSec),
    fmt(r.mbPerSec, 1),
    fmt(r.p50Us === undefined ? undefined : r.p50Us / 1000, 3),
    fmt(r.p99Us === undefined ? undefined : r.p99Us / 1000, 3),
    fmt(r.p999Us === undefined ? undefined : r.p999Us / 1000, 3),
    fmt(r.cpuUsPerMsg, 1),
    fmt(r.peakRssMB, 0),
    [r.clientCpuUsPerMsg === undefined ? '' : `client ${fmt(r.clientCpuUsPerMsg, 1)} µs/msg`, r.note ?? ''].filter(Boolean).join('; '),
  ]);
  return [head, ...body].map((cols) => '| ' + cols.join(' | ') + ' |').flatMap((l, i) => (i === 0 ? [l, '|' + head.map(() => '---').join('|') + '|'] : [l]));
}

export function printReport(rep: BenchReport): void {
  const widths: number[] = [];
  const lines = tableLines(rep.rows).filter((l) => !l.startsWith('|---'));
  const cells = lines.map((l) => l.slice(2, -2).split(' | '));
  for (const row of cells) row.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  for (const row of cells) console.log(row.map((c, i) => (i < 3 || i === row.length - 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  '));
  if (rep.ratios.length) {
    console.log('');
    for (const r of rep.ratios) console.log(`${r.label}: ${r.value.toFixed(2)}×`);
  }
}

const BEGIN = '<!-- bench:begin (written by pnpm bench) -->';
const END = '<!-- bench:end -->';

/** Writes bench/results/<date>.json and replaces the harness section of BENCHMARKS.md. */
export function saveReport(rep: BenchReport, root: string): string {
  const dir = join(root, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${rep.date}${rep.quick ? '-quick' : ''}${rep.only !== undefined ? `-only-${rep.only.replace(/,/g, '+')}` : ''}.json`);
  writeFileSync(file, JSON.stringify(rep, null, 2) + '\n');
  if (rep.quick || rep.only !== undefined) return file; // BENCHMARKS.md holds full runs of every system only
  const md = join(root, 'BENCHMARKS.md');
  const m = rep.machine;
  const section = [
    BEGIN,
    `## Side by side: \`pnpm bench\` (${rep.date})`,
    '',
    `Machine: ${m.cores} cores (${m.cpuModel}), ${m.memoryGiB} GiB, Node.js ${m.node}, ${m.platform}. Producer and servers share the machine. Run took ${rep.durationSec.toFixed(0)} s. Raw figures: \`bench/results/${rep.date}.json\`.`,
    '',
    ...tableLines(rep.rows),
    '',
    ...(rep.ratios.length ? ['Ratios:', '', ...rep.ratios.map((r) => `- ${r.label}: **${r.value.toFixed(2)}×**`), ''] : []),
    END,
  ].join('\n');
  let text = existsSync(md) ? readFileSync(md, 'utf8') : '# Benchmarks\n\n';
  const a = text.indexOf(BEGIN);
  const b = text.indexOf(END);
  text = a >= 0 && b > a ? text.slice(0, a) + section + text.slice(b + END.length) : text.trimEnd() + '\n\n' + section + '\n';
  writeFileSync(md, text);
  return file;
}
