import { spawnSync } from 'node:child_process';
import { describe, expect, it } from '@jest/globals';
import { gcPauses, soakSvg, type SoakSample } from './soak-mixed.js';

describe('soak helpers', () => {
  it('reads the pauses of a real --trace-gc run', () => {
    // A child that allocates enough to collect a few times, with V8 printing each GC.
    const r = spawnSync(
      process.execPath,
      ['--trace-gc', '--max-semi-space-size=1', '-e', 'let a = []; for (let i = 0; i < 3e5; i++) { a.push({ i }); if (a.length > 5e4) a = []; }'],
      {
        encoding: 'utf8',
        timeout: 30_000,
      },
    );
    expect(r.status).toBe(0);
    const lines = r.stdout.split('\n').filter((l) => /Scavenge|Mark-Compact/.test(l));
    const pauses = gcPauses(r.stdout);
    expect(lines.length).toBeGreaterThan(0);
    expect(pauses).toHaveLength(lines.length);
    for (const p of pauses) expect(p).toBeGreaterThanOrEqual(0);
    // Log lines around them are not pauses.
    expect(gcPauses(`[broker] something took 12 ms\n${r.stdout}`)).toHaveLength(lines.length);
  });

  it('draws one line per series, scaled inside the chart', () => {
    const samples: SoakSample[] = [0, 5, 10].map((t, i) => ({
      t,
      rssMB: 100 + i,
      rssAnonMB: 60 + i,
      rssFileMB: 40,
      heapUsedMB: 20,
      heapTotalMB: 30,
      externalMB: 50,
      lagP50Ms: 1,
      lagP99Ms: 2 + i,
      lagMaxMs: 5,
      gcCount: 1,
      gcTotalMs: 1,
      gcMaxMs: 1,
      cpuPct: 10,
      sent: 0,
      consumed: 0,
    }));
    const svg = soakSvg(samples, 'test');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.match(/<polyline /g)).toHaveLength(8);
    const coords = [...svg.matchAll(/points="([^"]*)"/g)].flatMap((m) => m[1]!.split(' ').map((p) => p.split(',').map(Number)));
    expect(coords.length).toBe(8 * 3);
    for (const [x, y] of coords) {
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThanOrEqual(900);
      expect(y).toBeGreaterThanOrEqual(0);
      expect(y).toBeLessThanOrEqual(630);
    }
  });
});
