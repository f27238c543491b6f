import { describe, expect, it } from '@jest/globals';
import { describeBend } from '../src/scale.js';
import { niceTicks, plotArea, renderChart, type ChartSpec } from '../src/svg-chart.js';

const spec: ChartSpec = {
  title: 'Throughput <vs> size & "things"',
  xLabel: 'bytes',
  x: [128, 1024, 4096, 262144],
  left: { label: 'msgs/s', series: [{ name: 'msgs/s', values: [90_000, 85_000, NaN, 900] }] },
  right: { label: 'µs/msg', series: [{ name: 'cpu', values: [9, 10, 14, 600] }] },
};

/** Tag balance of the document: every opened element closed, in order (a small well-formedness check). */
function balanced(svg: string): boolean {
  const stack: string[] = [];
  for (const m of svg.replace(/<\?xml[^>]*\?>/, '').matchAll(/<(\/?)([a-zA-Z]+)[^>]*?(\/?)>/g)) {
    const [, close, name, self] = m;
    if (self === '/') continue;
    if (close === '/') {
      if (stack.pop() !== name) return false;
    } else {
      stack.push(name!);
    }
  }
  return stack.length === 0;
}

describe('svg chart', () => {
  it('writes a well-formed SVG document with escaped text', () => {
    const svg = renderChart(spec);
    expect(svg.startsWith('<?xml')).toBe(true);
    expect(svg).toContain('<svg xmlns="http://www.w3.org/2000/svg"');
    expect(balanced(svg)).toBe(true);
    expect(svg).toContain('Throughput &lt;vs&gt; size &amp; &quot;things&quot;');
    expect(svg).not.toMatch(/NaN|undefined|Infinity/);
    // x spans more than two decades: log scale, said on the axis label
    expect(svg).toContain('bytes (log scale)');
  });

  it('places every point inside the plot area and skips missing values', () => {
    const svg = renderChart(spec);
    const area = plotArea(spec);
    const pts = [...svg.matchAll(/<circle cx="([\d.-]+)" cy="([\d.-]+)"/g)].map((m) => [Number(m[1]), Number(m[2])] as const);
    expect(pts).toHaveLength(7); // 3 of 4 on the left (one NaN), 4 on the right
    for (const [x, y] of pts) {
      expect(x).toBeGreaterThanOrEqual(area.x0);
      expect(x).toBeLessThanOrEqual(area.x1);
      expect(y).toBeGreaterThanOrEqual(area.y0);
      expect(y).toBeLessThanOrEqual(area.y1);
    }
    // the smallest x on the left edge, the largest on the right edge
    expect(Math.min(...pts.map((p) => p[0]))).toBeCloseTo(area.x0, 0);
    expect(Math.max(...pts.map((p) => p[0]))).toBeCloseTo(area.x1, 0);
  });

  it('chooses round ticks that cover the data', () => {
    const t = niceTicks(0, 93_000);
    expect(t[0]).toBe(0);
    expect(t[t.length - 1]!).toBeGreaterThanOrEqual(93_000);
    expect(t.every((v, i) => i === 0 || v > t[i - 1]!)).toBe(true);
  });

  it('names the point where a curve bends', () => {
    expect(describeBend('msgs/s', [1, 10, 100, 1000], [100, 99, 98, 20], '')).toContain('bends at 100');
    expect(describeBend('msgs/s', [1, 10, 100], [100, 101, 99], '')).toContain('flat');
  });
});
