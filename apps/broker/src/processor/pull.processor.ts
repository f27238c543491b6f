import { Inject, Injectable } from '@nestjs/common';
import {
  FilterSyntaxError,
  MixAll,
  PermName,
  PullMessageRequestHeader,
  PullSysFlag,
  RemotingCommand,
  RequestCode,
  ResponseCode,
  parseTagExpression,
} from '@rocketmq-ts/protocol';
import { type RemotingConnection } from '@rocketmq-ts/remoting';
import { RemotingHandler } from '@rocketmq-ts/remoting/nest';
import { GetMessageStatus, type GetMessageResult } from '@rocketmq-ts/store';
import type { SubscriptionData } from '../client/consumer-manager.js';
import { arrivalMatcher, compileSql92, filterFor } from './message-filter.js';
import type { BrokerConfig } from '../config.js';
import type { MessageStore } from '@rocketmq-ts/store';
import { TopicConfigManager } from '../topic/topic-config-manager.js';
import { SubscriptionGroupManager } from '../subscription/subscription-group-manager.js';
import { ConsumerOffsetManager } from '../offset/consumer-offset-manager.js';
import { ConsumerManager } from '../client/consumer-manager.js';
import { LongPollingService } from '../longpolling/long-polling.service.js';
import { BrokerMetrics } from '../metrics/broker-metrics.js';
import { BrokerStatsSampler } from '../metrics/broker-stats.js';
import { BrokerState } from '../broker-state.js';
import { BROKER_CONFIG, MESSAGE_STORE } from '../tokens.js';

type PullHeader = ReturnType<typeof PullMessageRequestHeader.decode>;
/** Pulls read into buffers the store lends and takes back once the reply is written (fresh memory per pull costs more than the copy into it). */
const LEND = { lendBuffers: true } as const;

/**
 * PULL_MESSAGE and LITE_PULL_MESSAGE. A found batch is answered with the stored record slices
 * written straight after the header (no copy, no re-encoding). An empty queue with the suspend
 * flag parks the request in the long-polling service until a message arrives or the hold ends.
 */
@Injectable()
export class PullMessageProcessor {
  /** Subscriptions carried in pull requests (SUBSCRIPTION flag), by type and expression. */
  private readonly inlineSubs = new Map<string, SubscriptionData>();

  constructor(
    @Inject(BROKER_CONFIG) private readonly config: BrokerConfig,
    @Inject(MESSAGE_STORE) private readonly store: MessageStore,
    private readonly topics: TopicConfigManager,
    private readonly groups: SubscriptionGroupManager,
    private readonly offsets: ConsumerOffsetManager,
    private readonly consumers: ConsumerManager,
    private readonly longPolling: LongPollingService,
    private readonly metrics: BrokerMetrics,
    private readonly stats: BrokerStatsSampler,
    private readonly state: BrokerState,
  ) {}

  @RemotingHandler(RequestCode.PULL_MESSAGE, RequestCode.LITE_PULL_MESSAGE)
  pull(req: RemotingCommand, conn: RemotingConnection): Promise<RemotingCommand | null> {
    const t0 = performance.now();
    const h = PullMessageRequestHeader.decode(req.extFields);
    return this.process(req, conn, h, true, t0);
  }

  /**
   * Sends a reply the handler produced itself (found records, or a woken long poll) and reports
   * it to the rpc-latency probe, which the connection does not see for these.
   */
  private respond(req: RemotingCommand, conn: RemotingConnection, res: RemotingCommand, found: GetMessageResult | null, t0: number): void {
    if (found === null) {
      conn.reply(req, res, t0);
      return;
    }
    // The records may lie in buffers the store lent: they go back once the socket has them
    // (releaseMessageBuffers does nothing for a result that borrowed none, or a second time).
    const release = found.lent !== undefined ? (): void => this.store.releaseMessageBuffers(found) : undefined;
    if (req.isOneway || !conn.send(res, coalesceAdjacent(found.messageBuffers), release)) this.store.releaseMessageBuffers(found);
    this.metrics.rpcDone(req.code, req.isOneway ? -1 : res.code, performance.now() - t0);
  }

  private subscriptionFromRequest(h: PullHeader): SubscriptionData {
    const expressionType = (h.expressionType ?? 'TAG').toUpperCase();
    const subString = h.subscription ?? '*';
    const key = expressionType + '\u0001' + h.topic + '\u0001' + subString;
    let sub = this.inlineSubs.get(key);
    if (sub === undefined || sub.subVersion < h.subVersion) {
      const tags = expressionType === 'TAG' ? parseTagExpression(subString) : { tags: [], codes: [] };
      sub = { topic: h.topic, subString, tagsSet: tags.tags, codeSet: tags.codes, subVersion: h.subVersion, expressionType, classFilterMode: false };
      if (this.inlineSubs.size >= 10_000) this.inlineSubs.clear();
      this.inlineSubs.set(key, sub);
    }
    return sub;
  }

  private async process(req: RemotingCommand, conn: RemotingConnection, h: PullHeader, allowSuspend: boolean, t0: number): Promise<RemotingCommand | null> {
    const reply = (code: number, remark: string): RemotingCommand => RemotingCommand.responseTo(req, code, remark);
    if (!this.state.isMaster && !this.config.slaveReadEnable) {
      return reply(ResponseCode.SYSTEM_BUSY, '[REJECTREQUEST]system busy, start flow control for a while');
    }
    if (!this.state.readable) return reply(ResponseCode.NO_PERMISSION, `the broker[${this.config.brokerName}] pulling message is forbidden`);
    const group = this.groups.find(h.consumerGroup);
    if (!group) return reply(ResponseCode.SUBSCRIPTION_GROUP_NOT_EXIST, `subscription group [${h.consumerGroup}] does not exist`);
    if (!group.consumeEnable) return reply(ResponseCode.NO_PERMISSION, `subscription group no permission, ${h.consumerGroup}`);
    const tc = this.topics.get(h.topic);
    if (!tc) return reply(ResponseCode.TOPIC_NOT_EXIST, `topic[${h.topic}] not exist, apply first please!`);
    if ((tc.perm & PermName.PERM_READ) === 0) return reply(ResponseCode.NO_PERMISSION, `the topic[${h.topic}] pulling message is forbidden`);
    if (h.queueId < 0 || h.queueId >= tc.readQueueNums) {
      return reply(
        ResponseCode.INVALID_PARAMETER,
        `queueId[${h.queueId}] is illegal, topic:[${h.topic}] topicConfig.readQueueNums:[${tc.readQueueNums}] consumer:[${conn.remoteAddress}]`,
      );
    }

    let sub: SubscriptionData | undefined;
    if ((h.sysFlag & PullSysFlag.SUBSCRIPTION) !== 0) {
      sub = this.subscriptionFromRequest(h);
    } else {
      const cg = this.consumers.get(h.consumerGroup);
      if (!cg) return reply(ResponseCode.SUBSCRIPTION_NOT_EXIST, `the consumer's group info not exist, ${h.consumerGroup}`);
      if (cg.messageModel === 'BROADCASTING' && !group.consumeBroadcastEnable) {
        return reply(ResponseCode.NO_PERMISSION, `the consumer group[${h.consumerGroup}] can not consume by broadcast way`);
      }
      sub = cg.subscriptions.get(h.topic);
      if (!sub) return reply(ResponseCode.SUBSCRIPTION_NOT_EXIST, `the consumer's subscription not exist, ${h.topic}`);
      if (sub.subVersion < h.subVersion) return reply(ResponseCode.SUBSCRIPTION_NOT_LATEST, `the consumer's subscription not latest`);
    }
    if (sub.expressionType === 'SQL92') {
      if (!this.config.enablePropertyFilter) return reply(ResponseCode.SYSTEM_ERROR, 'The broker does not support consumer to filter message by SQL92');
      try {
        compileSql92(sub.subString);
      } catch (e) {
        if (e instanceof FilterSyntaxError) {
          return reply(
            ResponseCode.SUBSCRIPTION_PARSE_FAILED,
            `parse the consumer's subscription[${sub.subString}] failed, group: ${h.consumerGroup}: ${e.message}`,
          );
        }
        throw e;
      }
    } else if (sub.expressionType !== 'TAG') {
      return reply(ResponseCode.SUBSCRIPTION_PARSE_FAILED, `unsupported expression type ${sub.expressionType}`);
    }
    // Retry topics carry messages of every tag of the group's subscriptions.
    const filter = h.topic.startsWith(MixAll.RETRY_GROUP_TOPIC_PREFIX) && !this.config.filterSupportRetry ? undefined : filterFor(sub);

    const maxNums = Math.min(Math.max(1, h.maxMsgNums), this.config.pullBatchMaxMessageCount);
    const maxBytes = h.maxMsgBytes !== undefined && h.maxMsgBytes > 0 ? h.maxMsgBytes : undefined;
    // The piggy-backed commit is applied in arrival order, before the read awaits, so an
    // UPDATE_CONSUMER_OFFSET sent after this pull on the same connection always wins.
    if (allowSuspend && this.state.isMaster) {
      this.offsets.commitPullOffset(h.consumerGroup, h.topic, h.queueId, h.queueOffset);
      if ((h.sysFlag & PullSysFlag.COMMIT_OFFSET) !== 0) this.offsets.commitOffset(h.consumerGroup, h.topic, h.queueId, h.commitOffset);
    }
    const r = await this.store.getMessage(h.consumerGroup, h.topic, h.queueId, h.queueOffset, maxNums, maxBytes, filter, LEND);
    const [found, next] = statusToCode(r, h.queueOffset);
    let code = found;
    // Where the consumer should read next (RocketMQ's suggestWhichBrokerId): a master sends a
    // consumer that lags beyond memory to the group's slow-consumer broker when slaves may serve
    // reads; a slave whose master is alive sends it back to the master, and makes a miss retry there.
    let suggest = 0;
    if (this.state.isMaster) {
      suggest = this.config.slaveReadEnable && r.suggestPullingFromSlave === true ? group.whichBrokerWhenConsumeSlowly : group.brokerId;
    } else if (this.store.getHaStatus().master?.connected === true && code !== ResponseCode.SUCCESS) {
      code = ResponseCode.PULL_RETRY_IMMEDIATELY;
    }

    if (code === ResponseCode.PULL_NOT_FOUND && allowSuspend && (h.sysFlag & PullSysFlag.SUSPEND) !== 0 && !conn.isClosed) {
      const hold = this.config.longPollingEnable ? h.suspendTimeoutMillis : this.config.shortPollingTimeMills;
      if (hold > 0) {
        let answered = false;
        const matches = arrivalMatcher(sub);
        const refused = this.longPolling.hold({
          owner: conn,
          topic: h.topic,
          queueId: h.queueId,
          offset: h.queueOffset,
          deadline: Date.now() + hold,
          ...(matches ? { matches } : {}),
          wake: () => {
            if (answered || conn.isClosed) return;
            answered = true;
            this.process(req, conn, h, false, t0).then(
              (res) => {
                if (res) this.respond(req, conn, res, null, t0);
              },
              (e: unknown) => this.respond(req, conn, RemotingCommand.responseTo(req, ResponseCode.SYSTEM_ERROR, String(e)), null, t0),
            );
          },
        });
        if (refused === undefined) return null;
        // Memory stays bounded whatever a peer sends: beyond the bound the pull is answered at once.
        return reply(
          ResponseCode.SYSTEM_BUSY,
          refused === 'connection'
            ? `[OVERLOAD]system busy, start flow control for a while: ${this.config.maxSuspendedPullsPerConnection} pulls of this connection are suspended already`
            : `[OVERLOAD]system busy, start flow control for a while: ${this.config.maxSuspendedPulls} pulls are suspended already`,
        );
      }
    }

    const res = RemotingCommand.responseTo(req, code, r.status, {
      suggestWhichBrokerId: String(suggest),
      nextBeginOffset: String(next),
      minOffset: String(r.minOffset),
      maxOffset: String(r.maxOffset),
    });
    if (code !== ResponseCode.SUCCESS) {
      this.store.releaseMessageBuffers(r);
      return res;
    }
    this.metrics.messagesOut(h.topic, h.consumerGroup, r.messageBuffers.length, r.bufferTotalSize);
    this.stats.countGet(h.topic, h.consumerGroup, r.messageBuffers.length);
    // Found: header and the stored records go out together, the records as they are in memory.
    this.respond(req, conn, res, r, t0);
    return null;
  }
}

/**
 * Joins record slices that lie back to back in one buffer (a pull's records read with one span
 * read) into one view per run, so that a large run leaves as one socket buffer instead of being
 * copied record by record into the connection's output slab. The bytes sent are the same.
 */
export function coalesceAdjacent(parts: readonly Buffer[]): readonly Buffer[] {
  if (parts.length < 2) return parts;
  const out: Buffer[] = [];
  let first = parts[0]!;
  let end = first.byteOffset + first.length;
  let joined = 1;
  const close = (): void => {
    out.push(joined === 1 ? first : Buffer.from(first.buffer, first.byteOffset, end - first.byteOffset));
  };
  for (let i = 1; i < parts.length; i++) {
    const b = parts[i]!;
    if (b.buffer === first.buffer && b.byteOffset === end) {
      end += b.length;
      joined++;
      continue;
    }
    close();
    first = b;
    end = b.byteOffset + b.length;
    joined = 1;
  }
  close();
  return out;
}

/** Store outcome → response code and the next offset to pull from (remoting.md §3.3). */
export function statusToCode(r: GetMessageResult, requested: number): [number, number] {
  switch (r.status) {
    case GetMessageStatus.FOUND:
      return [ResponseCode.SUCCESS, r.nextBeginOffset];
    case GetMessageStatus.NO_MATCHED_MESSAGE:
    case GetMessageStatus.MESSAGE_WAS_REMOVING:
      return [ResponseCode.PULL_RETRY_IMMEDIATELY, r.nextBeginOffset];
    case GetMessageStatus.NO_MESSAGE_IN_QUEUE:
    case GetMessageStatus.NO_MATCHED_LOGIC_QUEUE:
      return requested !== 0 ? [ResponseCode.PULL_OFFSET_MOVED, 0] : [ResponseCode.PULL_NOT_FOUND, 0];
    case GetMessageStatus.OFFSET_TOO_SMALL:
      return [ResponseCode.PULL_OFFSET_MOVED, r.nextBeginOffset];
    case GetMessageStatus.OFFSET_OVERFLOW_ONE:
      return [ResponseCode.PULL_NOT_FOUND, requested];
    case GetMessageStatus.OFFSET_OVERFLOW_BADLY:
      return [ResponseCode.PULL_OFFSET_MOVED, r.nextBeginOffset];
    case GetMessageStatus.OFFSET_FOUND_NULL:
      return [ResponseCode.PULL_NOT_FOUND, r.nextBeginOffset];
    default:
      return [ResponseCode.PULL_NOT_FOUND, r.nextBeginOffset];
  }
}
