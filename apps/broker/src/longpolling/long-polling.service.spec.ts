import { describe, expect, it } from '@jest/globals';
import { LongPollingService } from './long-polling.service.js';

describe('LongPollingService', () => {
  it('wakes a held pull when a message reaches its offset, and only once', () => {
    const s = new LongPollingService();
    const woke: string[] = [];
    s.hold({ topic: 'T', queueId: 0, offset: 5, deadline: Date.now() + 10_000, wake: () => woke.push('a') });
    s.hold({ topic: 'T', queueId: 1, offset: 0, deadline: Date.now() + 10_000, wake: () => woke.push('b') });
    s.notifyMessageArriving('T', 0, 4, 0); // before the wanted offset
    expect(woke).toEqual([]);
    s.notifyMessageArriving('T', 0, 5, 0);
    s.notifyMessageArriving('T', 0, 6, 0);
    expect(woke).toEqual(['a']);
    expect(s.size).toBe(1);
  });

  it('checks the filter before waking', () => {
    const s = new LongPollingService();
    let n = 0;
    s.hold({ topic: 'T', queueId: 0, offset: 0, deadline: Date.now() + 10_000, matches: (code) => code === 7, wake: () => n++ });
    s.notifyMessageArriving('T', 0, 0, 3);
    expect(n).toBe(0);
    s.notifyMessageArriving('T', 0, 1, 7);
    expect(n).toBe(1);
  });

  it('answers expired holds on expire() and everything on stop()', () => {
    const s = new LongPollingService();
    const woke: number[] = [];
    const now = Date.now();
    s.hold({ topic: 'T', queueId: 0, offset: 0, deadline: now + 100, wake: () => woke.push(1) });
    s.hold({ topic: 'T', queueId: 0, offset: 0, deadline: now + 1000, wake: () => woke.push(2) });
    s.expire(now + 500);
    expect(woke).toEqual([1]);
    s.stop();
    expect(woke).toEqual([1, 2]);
    expect(s.size).toBe(0);
  });

  it('bounds holds per connection and in all; holds of a closed connection are dropped at the next expiry pass', () => {
    const s = new LongPollingService(200, 2, 3);
    const a = { isClosed: false };
    const b = { isClosed: false };
    const hold = (owner: { isClosed: boolean }): string | undefined =>
      s.hold({ owner, topic: 'T', queueId: 0, offset: 0, deadline: Date.now() + 60_000, wake: () => undefined });
    expect(hold(a)).toBeUndefined();
    expect(hold(a)).toBeUndefined();
    expect(hold(a)).toBe('connection');
    expect(hold(b)).toBeUndefined();
    expect(hold(b)).toBe('total');
    expect(s.heldBy(a)).toBe(2);
    a.isClosed = true;
    s.expire(Date.now());
    expect(s.size).toBe(1);
    expect(s.heldBy(a)).toBe(0);
    expect(hold(b)).toBeUndefined();
    // Holds without an owner (POP) are not bounded here.
    expect(s.hold({ topic: 'T', queueId: 0, offset: 0, deadline: Date.now() + 60_000, wake: () => undefined })).toBeUndefined();
  });
});
