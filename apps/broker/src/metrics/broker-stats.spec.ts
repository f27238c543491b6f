import { describe, expect, it } from '@jest/globals';
import { BrokerStatsSampler } from './broker-stats.js';

describe('BrokerStatsSampler', () => {
  it('computes 10 s / 1 min / 10 min rates and rolls the day counters at midnight', () => {
    let t = new Date(2026, 10, 26, 23, 59, 0).getTime();
    let put = 0;
    const s = new BrokerStatsSampler(
      () => ({ put, get: put / 2 }),
      () => t,
    );
    expect(s.tps('put')).toBe('0.00 0.00 0.00');
    for (let i = 0; i < 30; i++) {
      s.sample();
      t += 1000;
      put += 100;
    }
    s.sample();
    expect(s.tps('put')).toBe('100.00 100.00 100.00');
    expect(s.tps('get')).toBe('50.00 50.00 50.00');
    for (let i = 0; i < 40; i++) {
      t += 1000;
      s.sample();
    }
    expect(s.tps('put').split(' ')[0]).toBe('0.00');
    expect(s.todayMorning.put).toBe(3000);
    expect(s.yesterdayMorning.put).toBe(0);
  });

  it('per-topic put and per-group consume rates over the last 10 s', () => {
    let t = 1_000_000;
    let stored = 0;
    const s = new BrokerStatsSampler(
      () => ({ put: 0, get: 0 }),
      () => t,
      { topicPuts: () => new Map([['T', stored]]) },
    );
    expect(s.topicPutTps('T')).toBe(0);
    for (let i = 0; i < 20; i++) {
      s.sample();
      t += 1000;
      stored += 50;
      s.countGet('T', 'G', 20);
    }
    s.sample();
    expect(s.topicPutTps('T')).toBe(50);
    expect(s.groupConsumeTps('T', 'G')).toBe(20);
    expect(s.groupConsumeTps('T', 'other')).toBe(0);
    s.forget((k) => k.endsWith('@G'));
    for (let i = 0; i < 11; i++) {
      t += 1000;
      s.sample();
    }
    expect([s.topicPutTps('T'), s.groupConsumeTps('T', 'G')]).toEqual([0, 0]);
  });
});
