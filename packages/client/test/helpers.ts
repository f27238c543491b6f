import { setTimeout as sleep } from 'node:timers/promises';
import { CreateTopicRequestHeader, RequestCode } from '@rocketmq-ts/protocol';
import { waitFor } from '@rocketmq-ts/testing';
import type { ClientLogger, Producer } from '../src/index.js';

export { sleep };

/** Collects client log events (quiet tests, and assertions on events). */
export function captureLogger(
  echo = process.env['ROCKETMQ_TS_TEST_ECHO'] === '1',
): ClientLogger & { events: Array<{ level: string; event: string; message: string }> } {
  const events: Array<{ level: string; event: string; message: string }> = [];
  return {
    events,
    log(level, event, message, fields, err) {
      events.push({ level, event, message });
      if (echo) process.stderr.write(`[${level}] ${event}: ${message} ${JSON.stringify(fields ?? {})} ${err ? String(err) : ''}\n`);
    },
  };
}

let n = 0;
/** A topic or group name unique within the test run. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${process.pid}_${Date.now().toString(36)}_${++n}`;
}

/** Creates `topic` on the broker at `brokerAddr` (through the producer's connection) and waits for its route. */
export async function createTopic(producer: Producer, brokerAddr: string, topic: string, queues: number, perm = 6): Promise<void> {
  const api = producer.clientInstance.api;
  const header = CreateTopicRequestHeader.encode({
    topic,
    defaultTopic: 'TBW102',
    readQueueNums: queues,
    writeQueueNums: queues,
    perm,
    topicFilterType: 'SINGLE_TAG',
    order: false,
  });
  await api.call(brokerAddr, api.request(RequestCode.UPDATE_AND_CREATE_TOPIC, header));
  await waitFor(async () => (await api.getTopicRouteInfo(topic)) !== undefined, { timeoutMs: 10_000, message: `route of ${topic}` });
}
