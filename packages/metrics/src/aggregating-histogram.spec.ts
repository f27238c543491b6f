import { describe, expect, it } from '@jest/globals';
import { aggregatingHistogram } from './aggregating-histogram.js';
import { histogram, removeSeries } from './families.js';
import { createMetricsRegistry } from './registry.js';

const spec = { name: 'rocketmq_rpc_latency', help: 'h', labelNames: ['protocol_type', 'request_code', 'response_code'], buckets: [0.1, 1, 10] };
const obs: [Record<string, string>, number][] = [
  [{ protocol_type: 'remoting', request_code: 'send_message_v2', response_code: '0' }, 0.05],
  [{ protocol_type: 'remoting', request_code: 'send_message_v2', response_code: '0' }, 0.1],
  [{ protocol_type: 'remoting', request_code: 'send_message_v2', response_code: '0' }, 3],
  [{ protocol_type: 'remoting', request_code: 'pull_message', response_code: '19' }, 42],
  [{ protocol_type: 'remoting', request_code: 'send_message_v2', response_code: '0' }, 11],
];

describe('AggregatingHistogram', () => {
  it('exposes exactly what a prom-client Histogram exposes for the same observations', async () => {
    const a = createMetricsRegistry({ cluster: 'c1' }, { collectDefaults: false });
    const b = createMetricsRegistry({ cluster: 'c1' }, { collectDefaults: false });
    const fast = aggregatingHistogram(a, spec);
    const plain = histogram(b, spec);
    for (const [l, v] of obs) {
      fast.series(l).observe(v);
      plain.observe(l, v);
    }
    expect(await a.metrics()).toBe(await b.metrics());
    expect(await a.getMetricsAsJSON()).toEqual(await b.getMetricsAsJSON());
    expect(aggregatingHistogram(a, spec)).toBe(fast);
  });

  it('keeps series handles valid across reset and remove', async () => {
    const r = createMetricsRegistry({}, { collectDefaults: false });
    const h = aggregatingHistogram(r, { ...spec, labelNames: ['topic'] });
    const s = h.series({ topic: 'A' });
    s.observe(1);
    h.series({ topic: 'B' }).observe(2);
    expect(await removeSeries(r, { topic: 'A' })).toBe(1);
    expect(await r.metrics()).not.toMatch(/topic="A"/);
    s.observe(5);
    expect(await r.metrics()).toMatch(/rocketmq_rpc_latency_count\{topic="A"\} 1/);
    h.reset();
    expect(await r.metrics()).not.toMatch(/_count/);
    expect(() => h.series({ nope: 'x' })).toThrow(/not included/);
  });
});
