import type { MQClientInstance } from '../client-instance.js';
import type { MessageQueue } from '../message-queue.js';
import type { MessageModel, SubscriptionData } from '../types.js';
import { ALLOCATE_STRATEGIES, sortConsumerIds, sortQueues, type AllocateStrategy } from './allocate.js';
import { parseTagExpression } from '@rocketmq-ts/protocol';

export type AllocateStrategyOption = AllocateStrategy | 'AVG' | 'AVG_BY_CIRCLE' | 'CONSISTENT_HASH';

export function resolveStrategy(s: AllocateStrategyOption | undefined): AllocateStrategy {
  if (s === undefined) return ALLOCATE_STRATEGIES['AVG']!;
  if (typeof s === 'string') {
    const found = ALLOCATE_STRATEGIES[s];
    if (!found) throw new Error(`unknown allocate strategy ${s}`);
    return found;
  }
  return s;
}

/**
 * The queues of `topic` this client should own: all of them when broadcasting; in clustering,
 * this client's share of the sorted queue list among the sorted consumer ids the broker reports.
 * undefined when the consumer id list could not be had (keep the current assignment).
 */
export async function allocateQueues(
  instance: MQClientInstance,
  group: string,
  model: MessageModel,
  strategy: AllocateStrategy,
  topic: string,
  mqAll: readonly MessageQueue[],
): Promise<MessageQueue[] | undefined> {
  if (model === 'BROADCASTING') return [...mqAll];
  const cids = await instance.findConsumerIdList(topic, group);
  if (cids.length === 0) return undefined;
  const mine = strategy.allocate(group, instance.clientId, sortQueues(mqAll), sortConsumerIds(cids));
  return mine.map((q) => ({ topic: q.topic, brokerName: q.brokerName, queueId: q.queueId }));
}

/** A subscription for `topic` with expression `expr` (tags `a || b`, `*`, or SQL92). */
export function buildSubscription(topic: string, expr: string | { type: 'TAG' | 'SQL92'; expression: string } = '*'): SubscriptionData {
  const type = typeof expr === 'string' ? 'TAG' : expr.type;
  const subString = (typeof expr === 'string' ? expr : expr.expression).trim() || '*';
  if (type === 'SQL92') return { topic, subString, tagsSet: [], codeSet: [], subVersion: Date.now(), expressionType: 'SQL92', classFilterMode: false };
  const t = parseTagExpression(subString);
  return {
    topic,
    subString: t.all ? '*' : subString,
    tagsSet: t.tags,
    codeSet: t.codes,
    subVersion: Date.now(),
    expressionType: 'TAG',
    classFilterMode: false,
  };
}
