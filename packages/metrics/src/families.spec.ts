import { describe, expect, it } from '@jest/globals';
import { counter, gauge, histogram, removeSeries } from './families.js';
import { createMetricsRegistry } from './registry.js';

const lag = { name: 'rocketmq_consumer_lag_messages', help: 'lag', labelNames: ['topic', 'consumer_group'] };

describe('metric families', () => {
  it('get-or-create returns the same family and rejects a conflicting one', () => {
    const r = createMetricsRegistry({}, { collectDefaults: false });
    expect(gauge(r, lag)).toBe(gauge(r, lag));
    expect(() => counter(r, lag)).toThrow(/another type/);
    expect(() => gauge(r, { ...lag, labelNames: ['topic'] })).toThrow(/already registered with labels/);
  });

  it('removeSeries drops every series matching the labels, in every family', async () => {
    const r = createMetricsRegistry({ cluster: 'c1' }, { collectDefaults: false });
    const g = gauge(r, lag);
    g.set({ topic: 'A', consumer_group: 'g1' }, 1);
    g.set({ topic: 'A', consumer_group: 'g2' }, 2);
    g.set({ topic: 'B', consumer_group: 'g1' }, 3);
    const h = histogram(r, { name: 'rpc', help: 'h', labelNames: ['topic'], buckets: [1, 10] });
    h.observe({ topic: 'A' }, 5);
    h.observe({ topic: 'B' }, 5);
    counter(r, { name: 'no_topic_label', help: 'c' }).inc();

    expect(await removeSeries(r, { topic: 'A' })).toBe(3);
    const text = await r.metrics();
    expect(text).not.toMatch(/topic="A"/);
    expect(text).toMatch(/rocketmq_consumer_lag_messages\{topic="B",consumer_group="g1",cluster="c1"\} 3/);
    expect(text).toMatch(/rpc_count\{cluster="c1",topic="B"\} 1/);
    expect(text).toMatch(/no_topic_label\{cluster="c1"\} 1/);

    expect(await removeSeries(r, { consumer_group: 'g1' })).toBe(1);
    expect(await r.metrics()).not.toMatch(/consumer_group="g1"/);
  });
});
