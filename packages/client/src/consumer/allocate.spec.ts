import { describe, expect, it } from '@jest/globals';
import { allocateAveragely, allocateAveragelyByCircle, allocateConsistentHash, sortQueues, type AllocateStrategy, type MessageQueueRef } from './allocate.js';

const queues = (n: number, brokers = ['broker-a']): MessageQueueRef[] =>
  sortQueues(brokers.flatMap((b) => Array.from({ length: n }, (_, i) => ({ topic: 'T', brokerName: b, queueId: i }))));
const ids = (n: number) => Array.from({ length: n }, (_, i) => `10.0.0.1@c${i}`).sort();
const key = (q: MessageQueueRef) => `${q.brokerName}/${q.queueId}`;

function checkPartition(s: AllocateStrategy, qn: number, cn: number): MessageQueueRef[][] {
  const all = queues(qn, ['broker-a', 'broker-b']);
  const cids = ids(cn);
  const parts = cids.map((c) => s.allocate('G', c, all, cids));
  const seen = parts.flat().map(key).sort();
  expect(seen).toEqual(all.map(key).sort()); // every queue exactly once
  return parts;
}

describe('allocation strategies', () => {
  it.each([allocateAveragely, allocateAveragelyByCircle, allocateConsistentHash()])('%# partitions every queue exactly once', (s) => {
    for (const [q, c] of [
      [4, 1],
      [4, 3],
      [8, 3],
      [3, 5],
      [16, 16],
      [1, 2],
    ] as const) {
      checkPartition(s, q, c);
    }
  });

  it('AVG gives contiguous blocks with the extras first', () => {
    const parts = checkPartition(allocateAveragely, 4, 3); // 8 queues, 3 consumers → 3,3,2
    expect(parts.map((p) => p.length)).toEqual([3, 3, 2]);
    expect(parts[0]!.map(key)).toEqual(['broker-a/0', 'broker-a/1', 'broker-a/2']);
    expect(parts[2]!.map(key)).toEqual(['broker-b/2', 'broker-b/3']);
  });

  it('AVG with more consumers than queues leaves the last ones idle', () => {
    const all = queues(2);
    const cids = ids(3);
    expect(cids.map((c) => allocateAveragely.allocate('G', c, all, cids).length)).toEqual([1, 1, 0]);
  });

  it('circle deals queues round robin', () => {
    const parts = checkPartition(allocateAveragelyByCircle, 2, 3); // 4 queues
    expect(parts.map((p) => p.map(key))).toEqual([['broker-a/0', 'broker-b/1'], ['broker-a/1'], ['broker-b/0']]);
  });

  it('consistent hash moves few queues when a consumer leaves', () => {
    const s = allocateConsistentHash();
    const all = queues(32, ['a', 'b']);
    const before = ids(4);
    const after = before.slice(0, 3);
    const owner = (cids: string[]) => new Map(cids.flatMap((c) => s.allocate('G', c, all, cids).map((q) => [key(q), c] as const)));
    const o1 = owner(before);
    const o2 = owner(after);
    const leaving = before[3]!;
    for (const [q, c] of o1) if (c !== leaving) expect(o2.get(q)).toBe(c); // the others keep their queues
  });

  it('a consumer not in the list gets nothing', () => {
    expect(allocateAveragely.allocate('G', 'stranger', queues(4), ids(2))).toEqual([]);
  });
});
