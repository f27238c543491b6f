import { setTimeout as sleep } from 'node:timers/promises';
import { CreateTopicRequestHeader, RequestCode } from '@rocketmq-ts/protocol';
import { waitFor } from '@rocketmq-ts/testing';
import { LitePullConsumer, type ClientLogger, type Producer, type ReceivedMessage } from '../src/index.js';

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

/** A lite pull consumer of every queue of `topic` from the first offset (started; shut it down yourself). */
export async function readerOf(namesrvAddr: string, topic: string, logger: ClientLogger): Promise<LitePullConsumer> {
  const lc = new LitePullConsumer({
    group: uniqueName('CG_READ'),
    namesrvAddr,
    logger,
    consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET',
    brokerSuspendMaxTimeMillis: 1000,
  });
  await lc.start();
  try {
    await lc.assign(await lc.fetchMessageQueues(topic));
  } catch (e) {
    await lc.shutdown();
    throw e;
  }
  return lc;
}

/** Polls until `n` messages came or `timeoutMs` passed; returns what came (maybe fewer, maybe more). */
export async function pollUntil(lc: LitePullConsumer, n: number, timeoutMs: number): Promise<ReceivedMessage[]> {
  const out: ReceivedMessage[] = [];
  const deadline = Date.now() + timeoutMs;
  while (out.length < n && Date.now() < deadline) out.push(...(await lc.poll(Math.min(500, Math.max(1, deadline - Date.now())))));
  return out;
}

/** Everything that arrives within `ms` (to show that nothing, or nothing more, is delivered). */
export async function pollFor(lc: LitePullConsumer, ms: number): Promise<ReceivedMessage[]> {
  const out: ReceivedMessage[] = [];
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) out.push(...(await lc.poll(Math.min(500, Math.max(1, deadline - Date.now())))));
  return out;
}
