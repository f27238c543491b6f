import { describe, expect, it } from '@jest/globals';
import { ChartsService, RingBuffer, rate, type ChartSample } from './charts.service.js';

describe('RingBuffer', () => {
  it('keeps the newest `capacity` items, oldest first', () => {
    const r = new RingBuffer<number>(3);
    expect(r.toArray()).toEqual([]);
    for (let i = 1; i <= 5; i++) r.push(i);
    expect(r.toArray()).toEqual([3, 4, 5]);
    expect(r.size).toBe(3);
    expect(() => new RingBuffer(0)).toThrow(RangeError);
  });
});

describe('rate', () => {
  it('is the difference per second, and no point when a counter is missing or went back', () => {
    expect(rate(10, 40, 3000)).toBe(10);
    expect(rate(0, 1, 3000)).toBe(0.33);
    expect(rate(undefined, 40, 1000)).toBeNull();
    expect(rate(50, 40, 1000)).toBeNull(); // topic re-created, offset reset
    expect(rate(1, 2, 0)).toBeNull();
  });
});

describe('ChartsService series', () => {
  const sample = (t: number, put: number, consumed: number, lag: number): ChartSample => ({
    t,
    put: new Map([['T', put]]),
    consumed: new Map([['G', new Map([['T', consumed]])]]),
    lag: new Map([['G', lag]]),
  });
  const svc = (samples: ChartSample[]): ChartsService => {
    const s = new ChartsService({ chartSampleIntervalMs: 1000, chartHistoryMs: 10_000 }, () => ({ note: 'unused' }));
    const ring = (s as unknown as { ring: RingBuffer<ChartSample> }).ring;
    for (const x of samples) ring.push(x);
    return s;
  };

  it('topic: puts and each group’s consumption per second between samples', () => {
    const v = svc([sample(0, 0, 0, 0), sample(1000, 10, 0, 10), sample(2000, 10, 10, 0)]).topic('T');
    expect(v.t).toEqual([1000, 2000]);
    expect(v.series).toEqual([
      { label: 'in (put/s)', values: [10, 0] },
      { label: 'out: G (/s)', values: [0, 10] },
    ]);
  });

  it('group: lag at every sample; cluster: the sums', () => {
    const s = svc([sample(0, 0, 0, 0), sample(1000, 10, 0, 10), sample(2000, 10, 10, 0)]);
    expect(s.group('G').series[0]!.values).toEqual([0, 10, 0]);
    expect(s.group('nope').series[0]!.values).toEqual([null, null, null]);
    expect(s.cluster().series.map((x) => x.values)).toEqual([
      [10, 0],
      [0, 10],
    ]);
  });

  it('keeps chartHistoryMs / chartSampleIntervalMs + 1 samples', () => {
    const s = svc(Array.from({ length: 30 }, (_, i) => sample(i * 1000, i, i, 0)));
    expect(s.samples()).toHaveLength(11);
    expect(s.samples()[0]!.t).toBe(19_000);
  });
});
