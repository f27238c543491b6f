import type { MQAdmin } from '@rocketmq-ts/admin';
import type { MessageQueue, ReceivedMessage } from '@rocketmq-ts/client';
import { MessageConst, MixAll } from '@rocketmq-ts/common';
import { encodeProperties, popRetryTopic } from '@rocketmq-ts/protocol';
import type { DashboardConfig } from './config.js';
import { BadRequest, messageView, type ConsoleService } from './console.service.js';
import type { DeadLetterExport, DeadLetterPageView, DeadLetterView, ResendResultView } from './web/views.js';

/** Producer group named in the resent copies' send requests. */
export const RESEND_PRODUCER_GROUP = 'DASHBOARD_DLQ_RESEND';

/** The most dead letters one page lists (and one resend or export takes). */
export const DLQ_PAGE_MAX = 500;

/**
 * Properties a stored copy carries for the broker's own bookkeeping (delay, timers, transactions,
 * POP, cluster, batch); a resent copy is a fresh message on the retry topic and leaves them out.
 */
const NOT_RESENT = new Set<string>([
  MessageConst.PROPERTY_DELAY_TIME_LEVEL,
  MessageConst.PROPERTY_REAL_TOPIC,
  MessageConst.PROPERTY_REAL_QUEUE_ID,
  MessageConst.PROPERTY_TRANSACTION_PREPARED,
  MessageConst.PROPERTY_TRANSACTION_PREPARED_QUEUE_OFFSET,
  MessageConst.PROPERTY_TRANSACTION_CHECK_TIMES,
  MessageConst.PROPERTY_MIN_OFFSET,
  MessageConst.PROPERTY_MAX_OFFSET,
  MessageConst.PROPERTY_CLUSTER,
  MessageConst.PROPERTY_MSG_REGION,
  MessageConst.PROPERTY_TRACE_SWITCH,
  MessageConst.PROPERTY_POP_CK,
  MessageConst.PROPERTY_FIRST_POP_TIME,
  MessageConst.PROPERTY_CONSUME_START_TIMESTAMP,
  MessageConst.PROPERTY_MAX_RECONSUME_TIMES,
  MessageConst.PROPERTY_WAIT_STORE_MSG_OK,
  MessageConst.PROPERTY_INNER_MULTI_DISPATCH,
  MessageConst.PROPERTY_INNER_MULTI_QUEUE_OFFSET,
  MessageConst.PROPERTY_INNER_NUM,
  MessageConst.PROPERTY_INNER_BASE,
  MessageConst.PROPERTY_TIMER_DELAY_SEC,
  MessageConst.PROPERTY_TIMER_DELIVER_MS,
  MessageConst.PROPERTY_TIMER_DELAY_MS,
  MessageConst.PROPERTY_TIMER_OUT_MS,
  MessageConst.PROPERTY_TIMER_ENQUEUE_MS,
  MessageConst.PROPERTY_TIMER_DEQUEUE_MS,
  MessageConst.PROPERTY_TIMER_ROLL_TIMES,
  MessageConst.PROPERTY_TIMER_DEL_UNIQKEY,
  MessageConst.PROPERTY_START_DELIVER_TIME,
]);

/** What a dead letter says about where it came from and why, from its properties. */
export function deadLetterView(m: ReceivedMessage, bodyMax: number, retryMaxTimes: number | null): DeadLetterView {
  const p = m.properties;
  const originTopic = originTopicOf(m);
  const originMsgId = p.get(MessageConst.PROPERTY_DLQ_ORIGIN_MESSAGE_ID) ?? p.get(MessageConst.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX) ?? m.msgId;
  const limit = retryMaxTimes === null ? '' : ` (group retryMaxTimes ${retryMaxTimes})`;
  return {
    message: messageView(m, bodyMax),
    originTopic,
    originMsgId,
    originOffsetMsgId: p.get(MessageConst.PROPERTY_ORIGIN_MESSAGE_ID) ?? '',
    reconsumeTimes: m.reconsumeTimes,
    exceptionText: null,
    reason: `exception not reported by the client; reconsume times ${m.reconsumeTimes}${limit}`,
  };
}

/** The topic a POP retry topic of `group` (`%RETRY%<group>_<topic>`, v2 `+<topic>`) retries; '' for any other topic. */
export function topicOfPopRetry(group: string, topic: string): string {
  for (const sep of ['+', '_']) {
    const prefix = `${MixAll.RETRY_GROUP_TOPIC_PREFIX}${group}${sep}`;
    if (topic.startsWith(prefix) && topic.length > prefix.length) return topic.slice(prefix.length);
  }
  return '';
}

/**
 * The topic a dead letter was first sent to: DLQ_ORIGIN_TOPIC, else RETRY_TOPIC. A message the
 * broker revived into a POP retry topic carries no RETRY_TOPIC, so its dead letter names that retry
 * topic; the topic it stands for is read from the name.
 */
export function originTopicOf(m: ReceivedMessage): string {
  const raw = m.properties.get(MessageConst.PROPERTY_DLQ_ORIGIN_TOPIC) ?? m.properties.get(MessageConst.PROPERTY_RETRY_TOPIC) ?? '';
  const group = m.topic.startsWith(MixAll.DLQ_GROUP_TOPIC_PREFIX) ? m.topic.slice(MixAll.DLQ_GROUP_TOPIC_PREFIX.length) : '';
  return (group && topicOfPopRetry(group, raw)) || raw;
}

/**
 * The copy of a dead letter sent back to its group: the retry topic `%RETRY%<group>` (only that
 * group consumes it), body, keys, tags and user properties kept, RETRY_TOPIC naming the original
 * topic (consumers hand the message to the listener under that topic), reconsume times 0.
 */
export function resendProperties(m: ReceivedMessage, originTopic: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of m.properties) if (!NOT_RESENT.has(k)) out[k] = v;
  if (originTopic) out[MessageConst.PROPERTY_RETRY_TOPIC] = originTopic;
  if (!out[MessageConst.PROPERTY_ORIGIN_MESSAGE_ID]) out[MessageConst.PROPERTY_ORIGIN_MESSAGE_ID] = m.offsetMsgId;
  return out;
}

/**
 * The retry topic a resent copy goes to: the group's POP retry topic of the original topic when the
 * group has an offset on it (its clients pop: 5.x clients through the proxy, or pop-mode consumers),
 * else `%RETRY%<group>`, which push and pull consumers of the group read.
 */
export function chooseRetryTopic(group: string, originTopic: string, groupTopics: ReadonlySet<string>): string {
  if (originTopic) {
    for (const v2 of [true, false]) {
      const t = popRetryTopic(group, originTopic, v2);
      if (groupTopics.has(t)) return t;
    }
  }
  return MixAll.RETRY_GROUP_TOPIC_PREFIX + group;
}

/** Dead letters of a group: list, resend to the group, export. Every cluster call goes through `console.admin`. */
export class DeadLetterService {
  constructor(
    private readonly console: ConsoleService,
    private readonly config: DashboardConfig,
  ) {}

  private get admin(): MQAdmin {
    return this.console.admin;
  }

  /** The DLQ's queues with the master holding each: from the route, else every master's queue 0. */
  private async queues(group: string): Promise<Array<{ mq: MessageQueue; addr: string }>> {
    const topic = MixAll.DLQ_GROUP_TOPIC_PREFIX + group;
    const out: Array<{ mq: MessageQueue; addr: string }> = [];
    const route = await this.admin.topicRoute(topic).catch(() => undefined);
    if (route) {
      for (const bd of route.brokerDatas) {
        const addr = bd.brokerAddrs.get(MixAll.MASTER_ID);
        const qd = route.queueDatas.find((q) => q.brokerName === bd.brokerName);
        if (!addr || !qd) continue;
        for (let queueId = 0; queueId < qd.readQueueNums; queueId++) out.push({ mq: { topic, brokerName: bd.brokerName, queueId }, addr });
      }
      return out;
    }
    // Not routed yet (a broker registers a new DLQ topic on its next heartbeat): ask the masters.
    for (const m of await this.admin.masterAddrs()) out.push({ mq: { topic, brokerName: m.brokerName, queueId: 0 }, addr: m.addr });
    return out;
  }

  private async retryMaxTimes(group: string): Promise<number | null> {
    for (const m of await this.admin.masterAddrs()) {
      const g = (await this.admin.subscriptionGroups(m.addr).catch(() => undefined))?.get(group);
      if (g && typeof g['retryMaxTimes'] === 'number') return g['retryMaxTimes'];
    }
    return null;
  }

  /** The newest `limit` dead letters of the group, newest first. */
  async list(group: string, limit: number): Promise<DeadLetterPageView> {
    if (!group) throw new BadRequest('give the consumer group');
    if (!Number.isInteger(limit) || limit < 1 || limit > DLQ_PAGE_MAX) throw new BadRequest(`limit must be an integer from 1 to ${DLQ_PAGE_MAX}`);
    const [queues, retryMaxTimes] = await Promise.all([this.queues(group), this.retryMaxTimes(group)]);
    const found: ReceivedMessage[] = [];
    let total = 0;
    for (const { mq, addr } of queues) {
      const [min, max] = await Promise.all([this.admin.api.getMinOffset(addr, mq).catch(() => 0), this.admin.api.getMaxOffset(addr, mq).catch(() => 0)]);
      total += Math.max(0, max - min);
      let offset = Math.max(min, max - limit);
      while (offset < max) {
        const batch = await this.console.pull(addr, mq, offset, Math.min(32, max - offset));
        if (batch.length === 0) break;
        found.push(...batch);
        offset = batch[batch.length - 1]!.queueOffset + 1;
      }
    }
    found.sort((a, b) => b.storeTimestamp - a.storeTimestamp || a.brokerName.localeCompare(b.brokerName) || b.queueOffset - a.queueOffset);
    return {
      group,
      topic: MixAll.DLQ_GROUP_TOPIC_PREFIX + group,
      total,
      retryMaxTimes,
      messages: found.slice(0, limit).map((m) => deadLetterView(m, this.config.bodyPreviewMaxBytes, retryMaxTimes)),
      truncated: total > limit,
    };
  }

  /** A dead letter by its offset msgId, refused unless it is in this group's DLQ. */
  private async deadLetter(group: string, id: string): Promise<ReceivedMessage> {
    const [m] = await this.admin.viewMessage(id);
    if (!m) throw new BadRequest(`no message ${id}`);
    if (m.topic !== MixAll.DLQ_GROUP_TOPIC_PREFIX + group) throw new BadRequest(`${id} is a message of ${m.topic}, not of the dead-letter queue of ${group}`);
    return m;
  }

  private ids(ids: unknown): string[] {
    if (!Array.isArray(ids) || ids.length === 0 || !ids.every((x) => typeof x === 'string' && x.length > 0)) {
      throw new BadRequest('give the offset msgIds of the dead letters, a non-empty list');
    }
    if (ids.length > DLQ_PAGE_MAX) throw new BadRequest(`at most ${DLQ_PAGE_MAX} messages at once`);
    return [...new Set(ids as string[])];
  }

  /**
   * Sends a copy of each dead letter to the group's retry topic (chooseRetryTopic) on the broker
   * that holds it; one result per message.
   */
  async resend(group: string, rawIds: unknown): Promise<ResendResultView[]> {
    if (!this.config.resendMessageEnable) throw new BadRequest('this console does not resend messages (resendMessageEnable=false)');
    const ids = this.ids(rawIds);
    const masters = await this.admin.masterAddrs();
    // The topics the group has offsets on tell which retry topic its clients read.
    const groupTopics = new Set((await this.admin.consumeStats(group).catch(() => [])).map((q) => q.mq.topic));
    const out: ResendResultView[] = [];
    for (const id of ids) {
      const r: ResendResultView = {
        id,
        ok: false,
        error: null,
        sendStatus: null,
        retryTopic: MixAll.RETRY_GROUP_TOPIC_PREFIX + group,
        brokerName: '',
        queueId: -1,
        queueOffset: -1,
        newOffsetMsgId: '',
      };
      try {
        const m = await this.deadLetter(group, id);
        const master = masters.find((x) => x.brokerName === m.brokerName) ?? masters[0];
        if (!master) throw new Error('no master broker is registered');
        const originTopic = originTopicOf(m);
        const retryTopic = chooseRetryTopic(group, originTopic, groupTopics);
        r.retryTopic = retryTopic;
        const sent = await this.admin.api.sendMessage(
          master.addr,
          master.brokerName,
          {
            producerGroup: RESEND_PRODUCER_GROUP,
            topic: retryTopic,
            defaultTopic: MixAll.AUTO_CREATE_TOPIC_KEY_TOPIC,
            defaultTopicQueueNums: 4,
            // The broker picks one of the retry topic's queues (and creates %RETRY%<group> if missing);
            // a POP retry topic has one queue, 0, which POP reads.
            queueId: retryTopic === MixAll.RETRY_GROUP_TOPIC_PREFIX + group ? -1 : 0,
            sysFlag: 0,
            bornTimestamp: Date.now(),
            flag: m.flag,
            properties: encodeProperties(resendProperties(m, originTopic)),
            reconsumeTimes: 0,
            unitMode: false,
            batch: false,
          },
          m.body,
          { batch: false, timeoutMs: this.config.adminTimeoutMillis },
        );
        if (!sent) throw new Error('no send result');
        Object.assign(r, {
          ok: sent.sendStatus === 'SEND_OK',
          sendStatus: sent.sendStatus,
          brokerName: master.brokerName,
          queueId: sent.messageQueue.queueId,
          queueOffset: sent.queueOffset,
          newOffsetMsgId: sent.offsetMsgId,
        });
        if (!r.ok) r.error = `stored with ${sent.sendStatus}`;
      } catch (e) {
        r.error = (e as Error).message;
      }
      out.push(r);
    }
    return out;
  }

  /** The dead letters named (or the newest `limit`) with whole bodies, base64. */
  async export(group: string, rawIds: unknown, limit: number): Promise<DeadLetterExport[]> {
    let messages: ReceivedMessage[];
    if (rawIds === undefined || (Array.isArray(rawIds) && rawIds.length === 0)) {
      const page = await this.list(group, limit);
      messages = await Promise.all(page.messages.map((d) => this.deadLetter(group, d.message.offsetMsgId)));
    } else {
      messages = [];
      for (const id of this.ids(rawIds)) messages.push(await this.deadLetter(group, id));
    }
    return messages.map((m) => {
      const d = deadLetterView(m, 0, null);
      return {
        offsetMsgId: m.offsetMsgId,
        msgId: m.msgId,
        originTopic: d.originTopic,
        originMsgId: d.originMsgId,
        reconsumeTimes: m.reconsumeTimes,
        storeTimestamp: m.storeTimestamp,
        bornTimestamp: m.bornTimestamp,
        tags: m.tags ?? '',
        keys: m.keys,
        properties: Object.fromEntries([...m.properties].sort((a, b) => a[0].localeCompare(b[0]))),
        bodyBase64: m.body.toString('base64'),
      };
    });
  }
}

/** CSV of an export: one row per message, RFC 4180 quoting. */
export function deadLettersCsv(rows: readonly DeadLetterExport[]): string {
  const q = (v: string | number): string => {
    const s = String(v);
    return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  const head = ['offsetMsgId', 'msgId', 'originTopic', 'originMsgId', 'reconsumeTimes', 'storeTime', 'bornTime', 'tags', 'keys', 'bodyBase64'];
  const lines = rows.map((r) =>
    [
      r.offsetMsgId,
      r.msgId,
      r.originTopic,
      r.originMsgId,
      r.reconsumeTimes,
      new Date(r.storeTimestamp).toISOString(),
      new Date(r.bornTimestamp).toISOString(),
      r.tags,
      r.keys.join(' '),
      r.bodyBase64,
    ]
      .map(q)
      .join(','),
  );
  return [head.join(','), ...lines].join('\r\n') + '\r\n';
}
