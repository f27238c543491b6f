// `--profile <dir>`: the broker runs under `node --cpu-prof`; after the run the hottest functions of
// each profile (self time) are printed, so a slow path can be found without extra tooling.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

const argv = process.argv.slice(2);
const at = argv.indexOf('--profile');
/** Directory for the broker's .cpuprofile files, or undefined when not profiling. */
export const profileDir = at >= 0 ? argv[at + 1] : undefined;

export function profileNodeArgs(name: string): string[] {
  return profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=${name}-${Date.now()}.cpuprofile`];
}

function shortUrl(url: string): string {
  const i = url.lastIndexOf('/packages/');
  const j = url.lastIndexOf('/apps/');
  const k = Math.max(i, j);
  if (k >= 0) return url.slice(k + 1);
  if (url.startsWith('node:')) return url;
  const n = url.lastIndexOf('/node_modules/');
  return n >= 0 ? url.slice(n + 14) : url;
}

/** Self time per function of one profile, top `limit`, as printable lines. */
export function topSelfTime(file: string, limit = 25): string[] {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  const samples = p.samples ?? [];
  const deltas = p.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) self.set(samples[i] as number, (self.get(samples[i] as number) ?? 0) + (deltas[i] ?? 0));
  const byFn = new Map<string, number>();
  let total = 0;
  for (const [id, us] of self) {
    const n = byId.get(id);
    if (n === undefined) continue;
    const f = n.callFrame;
    const key = `${f.functionName || '(anonymous)'} ${shortUrl(f.url)}${f.url ? `:${f.lineNumber + 1}` : ''}`;
    byFn.set(key, (byFn.get(key) ?? 0) + us);
    total += us;
  }
  const idle = byFn.get('(idle) ') ?? 0;
  const busy = total - idle;
  const rows = [...byFn]
    .filter(([k]) => k !== '(idle) ')
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit);
  return [
    `${file}: ${(busy / 1000).toFixed(0)} ms busy of ${(total / 1000).toFixed(0)} ms sampled`,
    ...rows.map(([k, us]) => `  ${((100 * us) / Math.max(1, busy)).toFixed(1).padStart(5)} %  ${k}`),
  ];
}

export function printProfiles(): void {
  if (profileDir === undefined) return;
  for (const f of readdirSync(profileDir)
    .filter((n) => n.endsWith('.cpuprofile'))
    .sort()) {
    console.log('');
    for (const line of topSelfTime(join(profileDir, f))) console.log(line);
  }
}
